package config

import (
	"os"
	"path/filepath"
	"reflect"
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
	sites := map[string]bool{}
	var watches []Watch
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
		sites[c.Node.Site] = true
		watches = append(watches, c.Watch)
	}
	if len(sites) != 3 || sites[""] {
		t.Errorf("sites %v, want three different ones", sites)
	}
	for i := range watches {
		if len(watches[i].Targets) == 0 || len(watches[i].Heartbeats) == 0 || !reflect.DeepEqual(watches[i], watches[0]) {
			t.Errorf("%s watches %+v, want targets and heartbeats, the same as %s", paths[i], watches[i], paths[0])
		}
	}
	if len(names) != 3 {
		t.Errorf("node names %v, want three different ones", names)
	}
}
