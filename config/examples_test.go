package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeploymentExamples checks that the three-region example configs
// decode strictly and validate (their secrets live in files on the
// servers, so they are not read here).
func TestDeploymentExamples(t *testing.T) {
	paths, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(paths) != 3 {
		t.Fatalf("examples: %v %v, want three node configs", paths, err)
	}
	names := map[string]bool{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		c.SetDefaults()
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if c.Cluster == nil || len(c.Cluster.Seeds) != 2 || c.Cluster.Label == "" || c.Cluster.KeysFile == "" {
			t.Errorf("%s: cluster = %+v, want two seeds, a label and a key file", p, c.Cluster)
		}
		for _, s := range c.Cluster.Seeds {
			if strings.Contains(s, strings.TrimSuffix(c.Node.Name, "-1")) {
				t.Errorf("%s: seeds itself (%s)", p, s)
			}
		}
		names[c.Node.Name] = true
	}
	if len(names) != 3 {
		t.Errorf("node names %v, want three different ones", names)
	}
}
