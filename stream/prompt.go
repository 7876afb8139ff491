package stream

import (
	"io"
	"strings"
)

// Prompt is the recipe's per-turn template (run_streaming.py):
// "USER: " + prompt + "\n\nASSISTANT: ", trailing space included.
func Prompt(turn string) string {
	return "USER: " + turn + "\n\nASSISTANT: "
}

// wordPrinter prints the generation word by word as greedy_generate does:
// after every token the text so far is stripped and split on " ", the
// complete words (all but the last) not yet printed go out followed by a
// space, and at the end the rest goes out with a newline.
type wordPrinter struct {
	w    io.Writer
	text strings.Builder
	pos  int
}

func (p *wordPrinter) words() []string {
	return strings.Split(strings.TrimSpace(p.text.String()), " ")
}

// add appends the text of one generated token.
func (p *wordPrinter) add(piece string) error {
	p.text.WriteString(piece)
	words := p.words()
	if now := len(words) - 1; now > p.pos {
		_, err := io.WriteString(p.w, strings.Join(words[p.pos:now], " ")+" ")
		p.pos = now
		return err
	}
	return nil
}

// finish prints what is left and ends the line.
func (p *wordPrinter) finish() error {
	words := p.words()
	_, err := io.WriteString(p.w, strings.Join(words[min(p.pos, len(words)):], " ")+"\n")
	return err
}
