package alertmanager_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixtures are Alertmanager notifications in the shape and field order its
// webhook sends them: one firing alert, the same alert resolved, a group
// of three alerts (two firing, one resolved), and a group truncated by
// max_alerts.
var fixtures = []string{"firing", "resolved", "multiple", "truncated"}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "payloads", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
