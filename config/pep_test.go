package config

import "testing"

func TestPEPSection(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{name: "defaults", body: "", check: func(t *testing.T, c *Config) {
			if p := c.PEP; p.MaxNodes != 1000 || p.MaxItemsPerNode != 1000 || p.MaxItemSize != 256<<10 {
				t.Fatalf("defaults: %+v", p)
			}
		}},
		{name: "settings", body: "[pep]\nmax_nodes = 20\nmax_items_per_node = 5\nmax_item_size = 4096\n", check: func(t *testing.T, c *Config) {
			if p := c.PEP; p.MaxNodes != 20 || p.MaxItemsPerNode != 5 || p.MaxItemSize != 4096 {
				t.Fatalf("got %+v", p)
			}
		}},
		{name: "no nodes", body: "[pep]\nmax_nodes = 0\n", wantErr: "pep.max_nodes: 0 is not between 1 and"},
		{name: "no items", body: "[pep]\nmax_items_per_node = -1\n", wantErr: "pep.max_items_per_node"},
		{name: "tiny items", body: "[pep]\nmax_item_size = 10\n", wantErr: "pep.max_item_size: 10 is not between 1024 and"},
		{name: "huge items", body: "[pep]\nmax_item_size = 1000000000\n", wantErr: "pep.max_item_size"},
		{name: "wrong type", body: "[pep]\nmax_nodes = \"10\"\n", wantErr: "pep.max_nodes: expected an integer"},
		{name: "unknown key", body: "[pep]\nmax_subscriptions = 5\n", wantErr: `unknown key "pep.max_subscriptions"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadSection(t, c.body, c.wantErr)
			if cfg != nil && c.check != nil {
				c.check(t, cfg)
			}
		})
	}
}
