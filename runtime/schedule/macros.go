package schedule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeLayout formats [[ScheduledTime]] and [[CurrentTime]] as
// Kubeflow Pipelines does (20060102150405), so that parameters written
// for its recurring runs keep their meaning.
const DefaultTimeLayout = "20060102150405"

// Macros are the values a scheduled run's parameters may refer to.
type Macros struct {
	// Scheduled is the fire time the run is for.
	Scheduled time.Time
	// Current is when the run is created (later than Scheduled for a run
	// that catches up).
	Current time.Time
	// Index counts the schedule's runs from 1.
	Index int64
	// Location formats the times: the schedule's zone.
	Location *time.Location
}

// macro matches [[Name]] and [[Name.layout]]. A name starts with a letter,
// so JSON such as [[1,2],[3]] in a list parameter is not a macro.
var macro = regexp.MustCompile(`\[\[([A-Za-z][A-Za-z0-9]*)(\.[^\]]*)?\]\]`)

// MacroNames lists the macros for messages.
const MacroNames = "[[ScheduledTime]], [[ScheduledTime.<Go time layout>]], [[CurrentTime]], [[CurrentTime.<Go time layout>]], [[Index]]"

// CheckMacros reports the first macro in value that is not known.
func CheckMacros(value string) error {
	for _, m := range macro.FindAllStringSubmatch(value, -1) {
		if _, err := expandOne(m[1], m[2], Macros{Location: time.UTC}); err != nil {
			return err
		}
	}
	return nil
}

// Expand replaces the macros in value.
func Expand(value string, m Macros) (string, error) {
	var first error
	out := macro.ReplaceAllStringFunc(value, func(s string) string {
		sub := macro.FindStringSubmatch(s)
		v, err := expandOne(sub[1], sub[2], m)
		if err != nil && first == nil {
			first = err
		}
		return v
	})
	return out, first
}

// ExpandAll replaces the macros in every parameter.
func ExpandAll(params map[string]string, m Macros) (map[string]string, error) {
	if params == nil {
		return nil, nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		e, err := Expand(v, m)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out[k] = e
	}
	return out, nil
}

func expandOne(name, layout string, m Macros) (string, error) {
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	layout, hasLayout := strings.CutPrefix(layout, ".")
	switch name {
	case "ScheduledTime", "CurrentTime":
		if hasLayout && strings.TrimSpace(layout) == "" {
			return "", fmt.Errorf("[[%s.]] needs a Go time layout after the dot, such as [[%s.2006-01-02]]", name, name)
		}
		if !hasLayout {
			layout = DefaultTimeLayout
		}
		t := m.Scheduled
		if name == "CurrentTime" {
			t = m.Current
		}
		return t.In(loc).Format(layout), nil
	case "Index":
		if hasLayout {
			return "", fmt.Errorf("[[Index]] takes no layout")
		}
		return strconv.FormatInt(m.Index, 10), nil
	}
	return "", fmt.Errorf("unknown macro [[%s%s]]; the macros are %s", name, dotted(layout, hasLayout), MacroNames)
}

func dotted(layout string, has bool) string {
	if !has {
		return ""
	}
	return "." + layout
}

// MaxNameLength is the longest Schedule name: its runs are named
// <schedule>-<unix seconds> (ten digits until 2286), and a run's name is
// a label value on its task pods, which holds at most 63 characters.
const MaxNameLength = 63 - 11

// RunName is the name of the run a schedule makes for the fire time t: a
// fire has one name, so it can never run twice, whichever controller
// creates it and however often.
func RunName(schedule string, t time.Time) string {
	return schedule + "-" + strconv.FormatInt(t.Unix(), 10)
}

// ScheduledTimeOf is the fire time a run name of the schedule stands for.
func ScheduledTimeOf(schedule, run string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(run, schedule+"-")
	if !ok {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}
