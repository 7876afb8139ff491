package llamacpp

import (
	"os/exec"
	"strings"
	"testing"
)

// The committed patches apply to the pinned sources one commit each, format
// back byte for byte, and none changes a line that an earlier one added.
func TestPatchSeries(t *testing.T) {
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the patch series check needs %s: %v", tool, err)
		}
	}
	out, err := exec.Command("../scripts/patches.sh", "verify").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("scripts/patches.sh verify: %v", err)
	}
	if !strings.Contains(string(out), "format back byte for byte") {
		t.Fatalf("verify did not report the byte-for-byte check")
	}
}
