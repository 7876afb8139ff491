// Package enum parses the string-valued settings of the command line and the
// library (policies, aggregations, prefill modes...): one spelling rule and
// one error message for all of them.
package enum

import (
	"fmt"
	"slices"
	"strings"
)

// Parse returns the value of vals that s names (case and surrounding space
// ignored). An empty s gives def when def is not empty; otherwise the error
// names what is parsed and lists vals.
func Parse[T ~string](what, s string, def T, vals ...T) (T, error) {
	v := T(strings.ToLower(strings.TrimSpace(s)))
	if v == "" && def != "" {
		return def, nil
	}
	if slices.Contains(vals, v) {
		return v, nil
	}
	return "", fmt.Errorf("%s %q: want %s", what, s, List(vals...))
}

// List joins values as "a, b or c".
func List[T ~string](vals ...T) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = string(v)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
