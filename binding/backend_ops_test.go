package binding

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// bin/test-ops (llama.cpp/tests/test-ops.cpp) runs the ops our patches add on
// every backend it finds: the CPU against a double-precision reference, and
// a GPU, where there is one, against the CPU.
func TestBackendOps(t *testing.T) {
	const exe = "../bin/test-ops"
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("%s is missing (built by make): %v", exe, err)
	}
	out, err := exec.Command(exe, "-v").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("test-ops: %v", err)
	}
	m := regexp.MustCompile(`test-ops: (\d+) comparisons agree, (\d+) differ`).FindSubmatch(out)
	if m == nil {
		t.Fatal("test-ops printed no summary")
	}
	agree, _ := strconv.Atoi(string(m[1]))
	differ, _ := strconv.Atoi(string(m[2]))
	if differ != 0 || agree < 10 {
		t.Fatalf("test-ops: %d comparisons agree, %d differ; want at least 10 and none", agree, differ)
	}
}
