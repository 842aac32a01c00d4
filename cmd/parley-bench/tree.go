package main

import (
	"encoding/xml"
	"fmt"
)

// node is a parsed element, used only on setup paths (roster results and
// pushes, MUC join presences), never per measured stanza.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

// parseNode parses one element.
func parseNode(raw []byte) (*node, error) {
	n := &node{}
	if err := xml.Unmarshal(raw, n); err != nil {
		return nil, fmt.Errorf("parse %q: %w", clip(raw), err)
	}
	return n, nil
}

// child returns the first child with local name local (in any
// namespace), or nil.
func (n *node) child(local string) *node {
	if n == nil {
		return nil
	}
	for i := range n.Children {
		if n.Children[i].XMLName.Local == local {
			return &n.Children[i]
		}
	}
	return nil
}

// children returns the children with local name local.
func (n *node) children(local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for i := range n.Children {
		if n.Children[i].XMLName.Local == local {
			out = append(out, &n.Children[i])
		}
	}
	return out
}

// attr returns the value of the attribute with local name local.
func (n *node) attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
