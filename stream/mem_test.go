package stream

import (
	"strings"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	status := "Name:\th2o\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nRssAnon:\t 1 kB\n"
	if n, err := parseVmRSS(strings.NewReader(status)); err != nil || n != 20480*1024 {
		t.Fatalf("got %d %v", n, err)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("missing VmRSS accepted")
	}
	if _, err := parseVmRSS(strings.NewReader("VmRSS:\t 12 MB\n")); err == nil {
		t.Fatal("unknown unit accepted")
	}
	if n, err := RSS(); err != nil || n < 1<<20 {
		t.Fatalf("own RSS %d %v", n, err)
	}
}

func TestBytesString(t *testing.T) {
	for n, want := range map[int64]string{0: "-", 512: "512 B", 1536: "1.5 KiB", 40 << 20: "40.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := bytesString(n); got != want {
			t.Errorf("%d: %q want %q", n, got, want)
		}
	}
}
