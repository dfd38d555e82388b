package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	m := Macros{
		Scheduled: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), // 03:00 CEST
		Current:   time.Date(2026, 3, 29, 1, 0, 2, 0, time.UTC),
		Index:     42,
		Location:  berlin,
	}
	cases := map[string]string{
		"[[ScheduledTime]]": "20260329030000",
		"[[CurrentTime]]":   "20260329030002",
		"[[ScheduledTime.2006-01-02T15:04:05Z07:00]]": "2026-03-29T03:00:00+02:00",
		"day=[[ScheduledTime.2006-01-02]]/[[Index]]":  "day=2026-03-29/42",
		"[[Index]]":       "42",
		"no macro":        "no macro",
		"[[1,2],[3]]":     "[[1,2],[3]]",
		`[["a","b"]]`:     `[["a","b"]]`,
		"[[ScheduledTime": "[[ScheduledTime",
	}
	for in, want := range cases {
		got, err := Expand(in, m)
		if err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
		if err := CheckMacros(in); err != nil {
			t.Errorf("CheckMacros(%q): %v", in, err)
		}
	}
	bad := map[string]string{
		"[[ScheduleTime]]":   "unknown macro [[ScheduleTime]]",
		"x [[RunID]] y":      "unknown macro [[RunID]]; the macros are [[ScheduledTime]]",
		"[[ScheduledTime.]]": "needs a Go time layout",
		"[[Index.5]]":        "takes no layout",
	}
	for in, want := range bad {
		if err := CheckMacros(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckMacros(%q) = %v, want %q", in, err, want)
		}
		if _, err := Expand(in, m); err == nil {
			t.Errorf("Expand(%q) succeeded", in)
		}
	}
	out, err := ExpandAll(map[string]string{"date": "[[ScheduledTime.2006-01-02]]", "n": "[[Index]]"}, m)
	if err != nil || out["date"] != "2026-03-29" || out["n"] != "42" {
		t.Errorf("ExpandAll = %v, %v", out, err)
	}
	if _, err := ExpandAll(map[string]string{"x": "[[Nope]]"}, m); err == nil || !strings.Contains(err.Error(), `parameter "x"`) {
		t.Errorf("ExpandAll names no parameter: %v", err)
	}
}

func TestRunName(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	name := RunName("nightly", at)
	if name != "nightly-1774746000" {
		t.Fatalf("RunName = %s", name)
	}
	if got, ok := ScheduledTimeOf("nightly", name); !ok || !got.Equal(at) {
		t.Errorf("ScheduledTimeOf = %s, %v", got, ok)
	}
	for _, other := range []string{"nightly-x", "weekly-1774746000", "nightly-", "nightly--5"} {
		if _, ok := ScheduledTimeOf("nightly", other); ok {
			t.Errorf("ScheduledTimeOf(%q) matched", other)
		}
	}
	long := strings.Repeat("a", MaxNameLength)
	if n := RunName(long, time.Date(2286, 11, 20, 0, 0, 0, 0, time.UTC)); len(n) > 63 {
		t.Errorf("a run of a %d-character schedule is named with %d characters", MaxNameLength, len(n))
	}
}
