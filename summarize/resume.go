package summarize

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Open prepares the output file. Without resume it is created or emptied
// (the recipe overwrites its output). With resume the complete lines already
// there are parsed and returned, a truncated last line (an interrupted
// write) is cut off, and new lines are appended after the complete ones.
func Open(path string, resume bool) (*Writer, []Line, error) {
	if !resume {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, err
		}
		return &Writer{f: f}, nil, nil
	}
	done, keep, err := readDone(path)
	if err != nil {
		return nil, nil, err
	}
	if err := truncateTo(path, keep); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return &Writer{f: f}, done, nil
}

// readDone parses the complete lines of an existing output and returns them
// with the byte length they span. A missing file is an empty output.
func readDone(path string) ([]Line, int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var done []Line
	var keep int64
	for n := 1; ; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return done, keep, nil // no newline: the interrupted last write
		}
		line := data[:i]
		data = data[i+1:]
		keep += int64(i + 1)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		l, err := DecodeLine(line)
		if err != nil {
			return nil, 0, fmt.Errorf("%s:%d: cannot resume: a complete output line is not valid JSON (%v); move the file away to start over", path, n, err)
		}
		done = append(done, l)
	}
}

// truncateTo cuts a partial last line off, if there is one.
func truncateTo(path string, size int64) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Size() == size {
		return nil
	}
	return os.Truncate(path, size)
}

// checkDone verifies that the lines of an earlier run belong to this input
// and policy, in order, so resuming never mixes two experiments.
func checkDone(path string, done []Line, recs []Record, run, model string) error {
	if len(done) > len(recs) {
		return fmt.Errorf("%s: cannot resume: it holds %d samples but only %d are asked for", path, len(done), len(recs))
	}
	for i, l := range done {
		r := recs[i]
		switch {
		case l.H2O.Index != i || l.H2O.Line != r.Line:
			return fmt.Errorf("%s: cannot resume: output line %d is sample %d (input line %d), expected sample %d (%s)",
				path, i+1, l.H2O.Index, l.H2O.Line, i, r.Where())
		case l.H2O.Model != "" && l.H2O.Model != model:
			return fmt.Errorf("%s: cannot resume: output line %d was made with the model %s, this run uses %s", path, i+1, l.H2O.Model, model)
		case l.H2O.Run != run:
			return fmt.Errorf("%s: cannot resume: output line %d was made with %q, this run uses %q", path, i+1, l.H2O.Run, run)
		case !sameArticle(l.Request, r):
			return fmt.Errorf("%s: cannot resume: output line %d has another request than %s", path, i+1, r.Where())
		}
	}
	return nil
}

func sameArticle(req []byte, r Record) bool {
	got, err := ParseRecord(req, "", 0)
	return err == nil && got.Article == r.Article && got.SummaryGT == r.SummaryGT
}
