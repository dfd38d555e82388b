package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one validation problem, located by the task and field it
// concerns so that a caller (the CLI, a Terraform diagnostic, an admission
// webhook) can point at the right attribute.
type FieldError struct {
	// Component is the component holding the task; empty for the root DAG
	// and for native DAGs.
	Component string
	// Task is the task name; empty for problems outside any task.
	Task string
	// Field is the path inside the task (or the document), e.g.
	// inputs.parameters["lr"] or triggerPolicy.condition.
	Field string
	// Line is the 1-based line in the source document, 0 when unknown.
	Line int
	// Err is the problem itself.
	Err error
}

// Error renders the location first so that the message reads as a path.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Component != "" && e.Component != rootComponent {
		fmt.Fprintf(&b, "component %q: ", e.Component)
	}
	if e.Task != "" {
		fmt.Fprintf(&b, "task %q: ", e.Task)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// Unwrap exposes the underlying problem.
func (e *FieldError) Unwrap() error { return e.Err }

// ErrorList is every problem found in one validation pass; validation does
// not stop at the first problem so that a user fixes them all at once.
type ErrorList []*FieldError

// Error joins the problems one a line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// AsErrorList extracts an ErrorList from err, or wraps a plain error as a
// one-element list.
func AsErrorList(err error) ErrorList {
	if err == nil {
		return nil
	}
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return ErrorList{fe}
	}
	return ErrorList{{Err: err}}
}

// errorSink collects problems while validating.
type errorSink struct {
	errs  ErrorList
	lines lineIndex
}

func (s *errorSink) add(component, task, field, path string, format string, args ...any) {
	s.errs = append(s.errs, &FieldError{
		Component: component,
		Task:      task,
		Field:     field,
		Line:      s.lines.line(path),
		Err:       fmt.Errorf(format, args...),
	})
}

func (s *errorSink) err() error {
	if len(s.errs) == 0 {
		return nil
	}
	return s.errs
}
