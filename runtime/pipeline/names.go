package pipeline

import (
	"fmt"
	"strings"
)

// maxPathName bounds a name that becomes a path element (a file name is at
// most 255 bytes on common filesystems; object keys have room to spare).
const maxPathName = 253

// CheckPathName reports why name cannot be one element of a file path or
// an object key. The launcher and the controller build paths from the
// pipeline's name, task names and the names of inputs and outputs
// (<root>/<pipeline>/<run>/<task>/<output>, the task's work directory), so
// a name must never climb out of its directory ("..", "a/b") or be empty.
// Allowed: letters, digits, '_', '-' and '.', starting with a letter, a
// digit or '_' (every name the KFP SDK writes fits).
func CheckPathName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("must not be empty")
	case len(name) > maxPathName:
		return fmt.Errorf("%q is longer than %d characters", name[:32]+"…", maxPathName)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' ||
			(i > 0 && (r == '-' || r == '.'))
		if !ok {
			return fmt.Errorf("%q is not a name that can be a file path element: use letters, digits, '_', '-' and '.', starting with a letter, a digit or '_'", name)
		}
	}
	return nil
}

// CheckTaskPath reports why a task's node path ("outer/loop[2]/train")
// cannot become a relative file path: each task name in it must pass
// CheckPathName and each iteration index be a number.
func CheckTaskPath(p string) error {
	if p == "" {
		return fmt.Errorf("the task path is empty")
	}
	for _, part := range strings.Split(p, "/") {
		name, iters, _ := strings.Cut(part, "[")
		if err := CheckPathName(name); err != nil {
			return fmt.Errorf("task path %q: %w", p, err)
		}
		if iters == "" {
			continue
		}
		for _, it := range strings.Split(strings.TrimSuffix(iters, "]"), "][") {
			if it == "" || strings.Trim(it, "0123456789") != "" {
				return fmt.Errorf("task path %q: iteration %q is not a number", p, it)
			}
		}
		if !strings.HasSuffix(iters, "]") {
			return fmt.Errorf("task path %q: unterminated iteration", p)
		}
	}
	return nil
}
