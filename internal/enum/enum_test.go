package enum

import "testing"

type color string

func TestParse(t *testing.T) {
	if c, err := Parse("color", " RED ", "blue", "red", "blue"); err != nil || c != "red" {
		t.Fatalf("%q %v", c, err)
	}
	if c, err := Parse[color]("color", "", "blue", "red", "blue"); err != nil || c != "blue" {
		t.Fatalf("default: %q %v", c, err)
	}
	if _, err := Parse[color]("color", "", "", "red", "blue"); err == nil {
		t.Fatal("empty accepted without a default")
	}
	_, err := Parse[color]("color", "green", "", "red", "blue", "grey")
	if err == nil || err.Error() != `color "green": want red, blue or grey` {
		t.Fatalf("error: %v", err)
	}
}
