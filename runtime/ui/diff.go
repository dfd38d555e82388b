package ui

import (
	"fmt"
	"strings"
)

// diffLine is one line of a diff: ' ' kept, '-' removed, '+' added.
type diffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
	// Old and New are the line numbers (1-based; 0 where the line is not
	// on that side).
	Old int `json:"old,omitempty"`
	New int `json:"new,omitempty"`
}

// diffHunk is a run of changes with context lines around it.
type diffHunk struct {
	Header string     `json:"header"`
	Lines  []diffLine `json:"lines"`
}

// maxDiffLines bounds the texts diffed line by line (Myers' algorithm is
// O((N+M)·D); two unrelated 100,000-line texts would take too long).
const maxDiffLines = 50000

// lineDiff is a unified diff of two texts, with context lines of context,
// by Myers' O(ND) algorithm (the shortest edit script).
func lineDiff(a, b string, context int) ([]diffHunk, error) {
	x, y := splitLines(a), splitLines(b)
	if len(x)+len(y) > maxDiffLines {
		return nil, fmt.Errorf("the versions have %d lines together; a line diff is limited to %d", len(x)+len(y), maxDiffLines)
	}
	ops, err := myers(x, y)
	if err != nil {
		return nil, err
	}
	var hunks []diffHunk
	// Group changes with their context.
	type span struct{ from, to int }
	var spans []span
	for i := 0; i < len(ops); {
		if ops[i].Op == " " {
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].Op != " " {
			j++
		}
		from, to := max(0, i-context), min(len(ops), j+context)
		if len(spans) > 0 && from <= spans[len(spans)-1].to {
			spans[len(spans)-1].to = to
		} else {
			spans = append(spans, span{from, to})
		}
		i = j
	}
	for _, sp := range spans {
		lines := ops[sp.from:sp.to]
		oldStart, newStart, oldN, newN := 0, 0, 0, 0
		for _, l := range lines {
			if l.Old > 0 {
				if oldStart == 0 {
					oldStart = l.Old
				}
				oldN++
			}
			if l.New > 0 {
				if newStart == 0 {
					newStart = l.New
				}
				newN++
			}
		}
		hunks = append(hunks, diffHunk{Header: fmt.Sprintf("@@ -%d,%d +%d,%d @@", oldStart, oldN, newStart, newN), Lines: lines})
	}
	return hunks, nil
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// maxEdits bounds the edit distance myers searches: the trace it keeps
// grows with its square.
const maxEdits = 4000

// errTooDifferent is the answer for texts more than maxEdits apart.
var errTooDifferent = fmt.Errorf("the versions differ in more than %d lines: compare them whole", maxEdits)

// myers returns the edit script from x to y as diff lines.
func myers(x, y []string) ([]diffLine, error) {
	n, m := len(x), len(y)
	maxD := min(n+m, maxEdits)
	// v[k] is the furthest x on diagonal k; trace[d] keeps v's diagonals
	// -d-1..d+1 before round d, for the walk back.
	v := map[int]int{1: 0}
	var trace []map[int]int
	found := false
	for d := 0; d <= maxD && !found; d++ {
		snap := make(map[int]int, 2*d+3)
		for k := -d - 1; k <= d+1; k++ {
			if x, ok := v[k]; ok {
				snap[k] = x
			}
		}
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || (k != d && v[k-1] < v[k+1]) {
				px = v[k+1]
			} else {
				px = v[k-1] + 1
			}
			py := px - k
			for px < n && py < m && x[px] == y[py] {
				px++
				py++
			}
			v[k] = px
			if px >= n && py >= m {
				found = true
				break
			}
		}
	}
	if !found {
		return nil, errTooDifferent
	}
	var rev []diffLine
	px, py := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		vd := trace[d]
		k := px - py
		var prevK int
		if k == -d || (k != d && vd[k-1] < vd[k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[prevK]
		prevY := prevX - prevK
		for px > prevX && py > prevY {
			rev = append(rev, diffLine{Op: " ", Text: x[px-1], Old: px, New: py})
			px--
			py--
		}
		if d == 0 {
			break
		}
		if px == prevX {
			rev = append(rev, diffLine{Op: "+", Text: y[py-1], New: py})
			py--
		} else {
			rev = append(rev, diffLine{Op: "-", Text: x[px-1], Old: px})
			px--
		}
	}
	out := make([]diffLine, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out, nil
}
