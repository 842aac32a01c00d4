package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// checkKeys checks every key of the parsed document, in file order, against
// the fields of cfg (the schema is the struct's toml tags; a map field is a
// table of any keys), and reports the first unknown key or type mismatch.
func checkKeys(md toml.MetaData, raw map[string]any, cfg *Config) error {
	root := reflect.TypeOf(cfg).Elem()
	for _, key := range md.Keys() {
		if err := checkKey(key, 0, root, raw); err != nil {
			return err
		}
	}
	return nil
}

// checkKey checks the parts of key from i on against type t, v being the
// decoded value of key[:i].
func checkKey(key toml.Key, i int, t reflect.Type, v any) error {
	for ; i < len(key); i++ {
		part := key[i]
		name := key[:i+1].String()
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, part)
			if !ok {
				return fmt.Errorf("unknown key %q", name)
			}
			t = f.Type
		case reflect.Map:
			// A table of free-form keys, such as s2s.hosts.
			t = t.Elem()
		case reflect.Slice:
			// An array of tables, such as [[external_services]]: the
			// key names a field of its tables, checked in each table
			// that has it.
			if t.Elem().Kind() != reflect.Struct {
				return fmt.Errorf("unknown key %q", name)
			}
			if _, ok := fieldByTag(t.Elem(), part); !ok {
				return fmt.Errorf("unknown key %q", name)
			}
			for _, table := range tables(v) {
				if _, has := table[part]; has {
					if err := checkKey(key, i, t.Elem(), table); err != nil {
						return err
					}
				}
			}
			return nil
		default:
			// The parent's type was checked already; a value
			// cannot have sub-keys.
			return fmt.Errorf("unknown key %q", name)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("unknown key %q", name)
		}
		v = m[part]
		if err := checkType(t, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// tables returns the tables of a decoded array of tables, written either
// as [[name]] sections or inline.
func tables(v any) []map[string]any {
	switch a := v.(type) {
	case []map[string]any:
		return a
	case []any:
		var out []map[string]any
		for _, e := range a {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// fieldByTag returns the field of struct type t whose toml tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag != "" && tag != "-" && tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checkType reports whether TOML value v can be decoded into type t.
func checkType(t reflect.Type, v any) error {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("expected a string, got %s", typeName(v))
		}
		return reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	var ok bool
	switch t.Kind() {
	case reflect.Struct:
		_, ok = v.(map[string]any)
	case reflect.Map:
		// Only string keys; the entries are checked as keys of their
		// own, each named in its error.
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("unsupported configuration field type %s", t)
		}
		_, ok = v.(map[string]any)
	case reflect.String:
		_, ok = v.(string)
	case reflect.Int, reflect.Int64:
		_, ok = v.(int64)
	case reflect.Bool:
		_, ok = v.(bool)
	case reflect.Slice:
		if _, isTables := v.([]map[string]any); isTables && t.Elem().Kind() == reflect.Struct {
			ok = true // each table's keys are checked as keys of their own
			break
		}
		a, isArray := v.([]any)
		if !isArray {
			break
		}
		for _, e := range a {
			if err := checkType(t.Elem(), e); err != nil {
				return fmt.Errorf("expected %s, got array containing %s", describe(t), typeName(e))
			}
		}
		ok = true
	default:
		return fmt.Errorf("unsupported configuration field type %s", t)
	}
	if !ok {
		return fmt.Errorf("expected %s, got %s", describe(t), typeName(v))
	}
	return nil
}

// describe names the TOML type expected for Go type t, with an article.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a table"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	}
	return t.String()
}

// typeName names the TOML type of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "datetime"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}
