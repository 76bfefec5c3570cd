package data

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry/internal/input"
)

// Predictions are the columns of a predictions file.
type Predictions struct {
	Labels, Scores []float64
	Weights        []float64 // nil without a weight column
	Groups         [][]int
}

// ReadPredictions reads a CSV such as `ferry predict` writes (or, named
// .parquet or .pq, the same columns in Parquet). The group column
// is optional: when it is absent or empty, there are no groups. The weight
// column, when named, must be there.
//
// It is the hot path of `ferry metrics` on large files: the file is read
// whole and cut at line ends into one chunk per CPU, parsed in parallel;
// lines without a quote are split on commas in place (a quoted line goes
// through encoding/csv), "0"/"1" labels skip the float parser, and rows of
// one query usually come together, so a group key is compared with the
// previous one before any map lookup.
func ReadPredictions(ctx context.Context, path, labelCol, scoreCol, groupCol, weightCol string) (*Predictions, error) {
	if f, _ := FormatOf(path); f == Parquet {
		return readParquetPredictions(ctx, path, labelCol, scoreCol, groupCol, weightCol)
	}
	local := path
	objs, err := fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	if objs != nil && len(objs) != 1 {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("%d objects: predictions in CSV are one object", len(objs))}
	} else if objs != nil {
		local = objs[0].Local
	}
	buf, err := os.ReadFile(local)
	if err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	cols, headerEnd, err := readPredHeader(path, buf, labelCol, scoreCol, groupCol, weightCol)
	if err != nil {
		return nil, err
	}
	chunks := splitLines(buf[min(headerEnd+1, len(buf)):], runtime.GOMAXPROCS(0))
	results := make([]*predChunk, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = cols.parse(c)
		}()
	}
	wg.Wait()
	p := &Predictions{}
	line := 1 // the header
	total := 0
	for _, r := range results {
		total += len(r.labels)
	}
	p.Labels, p.Scores = make([]float64, 0, total), make([]float64, 0, total)
	for _, r := range results {
		if r.err != nil {
			r.err.Path, r.err.Line = path, line+r.err.Line
			return nil, r.err
		}
		line += r.lines
		p.Labels, p.Scores = append(p.Labels, r.labels...), append(p.Scores, r.scores...)
		if cols.weight >= 0 {
			p.Weights = append(p.Weights, r.weights...)
		}
	}
	if len(p.Labels) == 0 {
		return nil, &Error{Path: path, Msg: "no rows"}
	}
	if cols.group >= 0 {
		p.Groups = groupRows(results)
	}
	return p, nil
}

// readPredHeader finds the named columns in the header line of buf and
// returns where they are and where the header ends.
func readPredHeader(path string, buf []byte, labelCol, scoreCol, groupCol, weightCol string) (predColumns, int, error) {
	headerEnd := bytes.IndexByte(buf, '\n')
	if headerEnd < 0 {
		headerEnd = len(buf)
	}
	header, err := csv.NewReader(bytes.NewReader(buf[:headerEnd])).Read()
	if err != nil {
		return predColumns{}, 0, &Error{Path: path, Line: 1, Msg: "no header line: want a CSV with label and score columns, as ferry predict writes"}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	li, lok := col[labelCol]
	si, sok := col[scoreCol]
	if !lok || !sok {
		return predColumns{}, 0, &Error{Path: path, Line: 1, Msg: fmt.Sprintf("want columns %q and %q, the label and the score; the header has %s", labelCol, scoreCol, strings.Join(header, ", "))}
	}
	gi, gok := col[groupCol]
	wi, wok := col[weightCol]
	if weightCol != "" && !wok {
		pe := &input.ParamError{Name: "weight", Format: strings.ReplaceAll(fmt.Sprintf("no weight column %q (", weightCol), "%", "%%") +
			"%s" + strings.ReplaceAll("); the header has "+strings.Join(header, ", "), "%", "%%")}
		return predColumns{}, 0, &Error{Path: path, Line: 1, Err: pe}
	}
	cols := predColumns{n: len(header), label: li, score: si, group: -1, weight: -1, labelName: labelCol, scoreName: scoreCol, weightName: weightCol}
	if gok {
		cols.group = gi
	}
	if wok {
		cols.weight = wi
	}
	return cols, headerEnd, nil
}

// splitLines cuts body into parts chunks or fewer, each after a line end.
func splitLines(body []byte, parts int) [][]byte {
	var chunks [][]byte
	for len(body) > 0 {
		cut := len(body)
		if parts > 1 && len(chunks) < parts-1 {
			want := len(body) / (parts - len(chunks))
			if i := bytes.IndexByte(body[want:], '\n'); i >= 0 {
				cut = want + i + 1
			}
		}
		chunks, body = append(chunks, body[:cut]), body[cut:]
	}
	return chunks
}

// predColumns says where a predictions file's columns are.
type predColumns struct {
	n, label, score, group, weight   int // group and weight -1 when absent
	labelName, scoreName, weightName string
}

// predChunk is what one chunk of lines parsed to.
type predChunk struct {
	labels, scores, weights []float64
	keys                    [][]byte // each row's group key, into the file's buffer
	lines                   int
	err                     *Error // Line counts from the chunk's start
}

func (c predColumns) parse(b []byte) *predChunk {
	rows := bytes.Count(b, []byte{'\n'}) + 1
	r := &predChunk{labels: make([]float64, 0, rows), scores: make([]float64, 0, rows)}
	if c.group >= 0 {
		r.keys = make([][]byte, 0, rows)
	}
	fields := make([][]byte, 0, c.n)
	fail := func(col, msg string) *predChunk {
		r.err = &Error{Line: r.lines, Column: col, Msg: msg}
		return r
	}
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n')
		var lineBytes []byte
		if end < 0 {
			lineBytes, b = b, nil
		} else {
			lineBytes, b = b[:end], b[end+1:]
		}
		r.lines++
		lineBytes = bytes.TrimRight(lineBytes, "\r")
		if len(lineBytes) == 0 {
			continue
		}
		fields = fields[:0]
		if bytes.IndexByte(lineBytes, '"') >= 0 {
			rec, err := csv.NewReader(bytes.NewReader(lineBytes)).Read()
			if err != nil {
				return fail("", err.Error())
			}
			for _, f := range rec {
				fields = append(fields, []byte(f))
			}
		} else {
			for {
				i := bytes.IndexByte(lineBytes, ',')
				if i < 0 {
					fields = append(fields, lineBytes)
					break
				}
				fields = append(fields, lineBytes[:i])
				lineBytes = lineBytes[i+1:]
			}
		}
		if len(fields) != c.n {
			return fail("", fmt.Sprintf("%d fields, but the header has %d", len(fields), c.n))
		}
		var y float64
		switch lb := fields[c.label]; {
		case len(lb) == 1 && lb[0] == '0':
		case len(lb) == 1 && lb[0] == '1':
			y = 1
		default:
			v, err := ParseLabel(string(lb))
			if err != nil {
				return fail(c.labelName, err.Error())
			}
			y = v
		}
		s, err := strconv.ParseFloat(string(bytes.TrimSpace(fields[c.score])), 64)
		if err != nil || s != s || math.IsInf(s, 0) {
			return fail(c.scoreName, fmt.Sprintf("%q is not a finite number", fields[c.score]))
		}
		r.labels, r.scores = append(r.labels, y), append(r.scores, s)
		if c.weight >= 0 {
			w, err := ParseWeight(string(fields[c.weight]))
			if err != nil {
				return fail(c.weightName, err.Error())
			}
			r.weights = append(r.weights, w)
		}
		if c.group >= 0 {
			r.keys = append(r.keys, fields[c.group])
		}
	}
	return r
}

// groupRows numbers the groups in order of first appearance, rows with an
// empty key together as one more group; nil when every key is empty.
func groupRows(chunks []*predChunk) [][]int {
	index := map[string]int{}
	var rowGroup []int
	var prev []byte
	prevGroup := -1
	for _, c := range chunks {
		for _, k := range c.keys {
			if prevGroup >= 0 && bytes.Equal(k, prev) {
				rowGroup = append(rowGroup, prevGroup)
				continue
			}
			g, ok := index[string(k)]
			if !ok {
				g = len(index)
				index[string(k)] = g
			}
			prev, prevGroup = k, g
			rowGroup = append(rowGroup, g)
		}
	}
	if _, onlyEmpty := index[""]; len(index) == 0 || onlyEmpty && len(index) == 1 {
		return nil
	}
	sizes := make([]int, len(index))
	for _, g := range rowGroup {
		sizes[g]++
	}
	all := make([]int, len(rowGroup)) // one backing array for every group
	groups := make([][]int, len(sizes))
	off := 0
	for g, n := range sizes {
		groups[g] = all[off : off : off+n]
		off += n
	}
	for row, g := range rowGroup {
		groups[g] = append(groups[g], row)
	}
	return groups
}

// ParseWeight reads a sample weight: a finite number, 0 or more.
func ParseWeight(s string) (float64, error) {
	w, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || w < 0 || math.IsInf(w, 0) || w != w {
		return 0, fmt.Errorf("%q is not a weight: want a finite number, 0 or more", s)
	}
	return w, nil
}

// WritePredictions writes the CSV `ferry predict` promises: one line per input
// row in input order; group and label empty when absent.
func WritePredictions(w io.Writer, d *Dataset, scores []float64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString("row,group,label,score\n")
	buf := make([]byte, 0, 64)
	for i, s := range scores {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, ',')
		if d.Group != nil {
			buf = appendCSVField(buf, d.GroupKeys[d.Group[i]])
		}
		buf = append(buf, ',')
		if d.Label != nil {
			buf = strconv.AppendFloat(buf, d.Label[i], 'g', -1, 64)
		}
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, s, 'g', -1, 64)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func appendCSVField(buf []byte, s string) []byte {
	if !slices.ContainsFunc([]byte(s), func(c byte) bool { return c == ',' || c == '"' || c == '\n' || c == '\r' }) {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}
