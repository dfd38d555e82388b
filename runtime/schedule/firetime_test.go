package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// fireCase is a spec, a start instant and the fire times that follow it,
// all written as RFC 3339 with the offset the zone's clock shows.
type fireCase struct {
	name    string
	spec    Spec
	after   string
	want    []string
	comment string
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cronIn(zone string, exprs ...string) Spec { return Spec{Cron: exprs, TimeZone: zone} }

// The daylight-saving cases use the 2026 changes:
//
//	Europe/Berlin     2026-03-29 02:00 CET  -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET
//	America/New_York  2026-03-08 02:00 EST  -> 03:00 EDT;  2026-11-01 02:00 EDT  -> 01:00 EST
//	America/Santiago  2026-09-06 00:00 -04  -> 01:00 -03 (midnight does not exist)
//	America/Havana    2026-11-01 01:00 CDT  -> 00:00 CST  (midnight happens twice)
//	Australia/Lord_Howe 2026-10-04 02:00 +1030 -> 02:30 +11 (a 30-minute change)
//	Pacific/Apia      2011-12-30 skipped: -10 -> +14, a correction, not daylight saving
var fireCases = []fireCase{
	{name: "daily at midnight, five fields", spec: cronIn("", "0 0 * * *"),
		after: "2026-01-30T12:00:00Z", want: []string{"2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},
		comment: "0 0 * * * is daily, not hourly as Kubeflow Pipelines' seconds-first form makes it"},
	{name: "weekdays in office hours", spec: cronIn("", "*/20 9-10 * * 1-5"),
		after: "2026-01-30T10:30:00Z", want: []string{"2026-01-30T10:40:00Z", "2026-02-02T09:00:00Z", "2026-02-02T09:20:00Z"}},
	{name: "six fields with cronSeconds", spec: Spec{Cron: []string{"0 0 * * * *"}, CronSeconds: true},
		after: "2026-01-30T12:00:00Z", want: []string{"2026-01-30T13:00:00Z", "2026-01-30T14:00:00Z"},
		comment: "what a Kubeflow Pipelines user pastes: hourly"},
	{name: "six fields, every 15 seconds", spec: Spec{Cron: []string{"*/15 * * * * *"}, CronSeconds: true},
		after: "2026-01-30T12:00:50Z", want: []string{"2026-01-30T12:01:00Z", "2026-01-30T12:01:15Z"}},
	{name: "descriptor @daily in Berlin", spec: cronIn("Europe/Berlin", "@daily"),
		after: "2026-01-30T12:00:00+01:00", want: []string{"2026-01-31T00:00:00+01:00"}},
	{name: "descriptor @hourly", spec: cronIn("", "@hourly"),
		after: "2026-01-30T12:00:00Z", want: []string{"2026-01-30T13:00:00Z"}},
	{name: "a list fires at each time any entry matches, once", spec: cronIn("", "0 9 * * *", "0 9 * * 1", "30 12 * * *"),
		after: "2026-02-01T10:00:00Z", want: []string{"2026-02-01T12:30:00Z", "2026-02-02T09:00:00Z", "2026-02-02T12:30:00Z"}},
	{name: "day of month or day of week when both are restricted", spec: cronIn("", "0 0 13 * 5"),
		after: "2026-02-01T00:00:00Z", want: []string{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"}},

	// Leap days.
	{name: "February 29", spec: cronIn("", "0 0 29 2 *"),
		after: "2026-01-01T00:00:00Z", want: []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
	{name: "February 29 across 2100, which is no leap year", spec: cronIn("", "0 0 29 2 *"),
		after: "2096-03-01T00:00:00Z", want: []string{"2104-02-29T00:00:00Z"},
		comment: "robfig/cron gives up after five years and returns the zero time"},
	{name: "the last day of February in a leap year", spec: cronIn("", "0 12 28-29 2 *"),
		after: "2028-02-27T00:00:00Z", want: []string{"2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z", "2029-02-28T12:00:00Z"}},
	{name: "every 90 minutes across a leap day", spec: Spec{Cron: []string{"@every 90m"}, Anchor: time.Date(2028, 2, 28, 23, 0, 0, 0, time.UTC)},
		after: "2028-02-28T23:30:00Z", want: []string{"2028-02-29T00:30:00Z", "2028-02-29T02:00:00Z"}},

	// @every and intervals are anchored, and elapsed time ignores daylight saving.
	{name: "@every counts from the anchor, not from now", spec: Spec{Cron: []string{"@every 90m"}, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		after: "2026-01-01T01:00:00Z", want: []string{"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"}},
	{name: "@every fires at the anchor first", spec: Spec{Cron: []string{"@every 1h"}, Anchor: time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)},
		after: "2026-01-01T01:00:00Z", want: []string{"2026-01-01T05:00:00Z", "2026-01-01T06:00:00Z"}},
	{name: "interval of one second", spec: Spec{Interval: time.Second, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		after: "2026-01-01T00:00:00.5Z", want: []string{"2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"}},
	{name: "interval across Berlin's spring change is elapsed time", spec: Spec{Interval: time.Hour, TimeZone: "Europe/Berlin", Anchor: time.Date(2026, 3, 28, 0, 30, 0, 0, time.UTC)},
		after: "2026-03-29T01:00:00+01:00", want: []string{"2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"}},
	{name: "@every across Berlin's autumn change fires in both passes", spec: Spec{Cron: []string{"@every 1h"}, TimeZone: "Europe/Berlin", Anchor: time.Date(2026, 10, 24, 0, 30, 0, 0, time.UTC)},
		after: "2026-10-25T01:00:00+02:00", want: []string{"2026-10-25T01:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"}},

	// Berlin, clocks forward: 02:00-02:59 does not exist on 2026-03-29.
	{name: "Berlin: a fixed time in the skipped hour fires once, at 03:00", spec: cronIn("Europe/Berlin", "30 2 * * *"),
		after: "2026-03-28T03:00:00+01:00", want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"},
		comment: "robfig/cron skips 2026-03-29"},
	{name: "Berlin: 02:00 fires at 03:00 on the day it does not exist", spec: cronIn("Europe/Berlin", "0 2 * * *"),
		after: "2026-03-28T12:00:00+01:00", want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
	{name: "Berlin: several skipped times fire once", spec: cronIn("Europe/Berlin", "*/15 2 * * *"),
		after: "2026-03-28T02:50:00+01:00", want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
	{name: "Berlin: a skipped time and 03:00 itself fire once", spec: cronIn("Europe/Berlin", "30 2 * * *", "0 3 * * *"),
		after: "2026-03-29T01:00:00+01:00", want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
	{name: "Berlin: an hourly expression skips the missing hour", spec: cronIn("Europe/Berlin", "30 * * * *"),
		after: "2026-03-29T01:00:00+01:00", want: []string{"2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"}},

	// Berlin, clocks back: 02:00-02:59 happens twice on 2026-10-25.
	{name: "Berlin: a fixed time in the repeated hour fires once", spec: cronIn("Europe/Berlin", "30 2 * * *"),
		after: "2026-10-24T03:00:00+02:00", want: []string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
		comment: "robfig/cron fires at 02:30 CEST and again at 02:30 CET"},
	{name: "Berlin: from the second pass, the repeated time has fired", spec: cronIn("Europe/Berlin", "30 2 * * *"),
		after: "2026-10-25T02:10:00+01:00", want: []string{"2026-10-26T02:30:00+01:00"}},
	{name: "Berlin: an hourly expression fires by the clock in both passes", spec: cronIn("Europe/Berlin", "30 * * * *"),
		after: "2026-10-25T01:00:00+02:00", want: []string{"2026-10-25T01:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"}},

	// New York.
	{name: "New York: 02:30 fires at 03:00 when clocks go forward", spec: cronIn("America/New_York", "30 2 * * *"),
		after: "2026-03-07T12:00:00-05:00", want: []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
	{name: "New York: 01:30 fires once when clocks go back", spec: cronIn("America/New_York", "30 1 * * *"),
		after: "2026-10-31T03:00:00-04:00", want: []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
	{name: "New York: hourly in the repeated hour", spec: cronIn("America/New_York", "0 * * * *"),
		after: "2026-10-31T23:30:00-04:00", want: []string{"2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
	{name: "New York: weekdays 09:00 across both changes", spec: cronIn("America/New_York", "0 9 * * 1-5"),
		after: "2026-03-06T10:00:00-05:00", want: []string{"2026-03-09T09:00:00-04:00", "2026-03-10T09:00:00-04:00"}},

	// Zones whose change is at midnight, or half an hour, or not daylight saving.
	{name: "Santiago: midnight that does not exist fires at 01:00", spec: cronIn("America/Santiago", "0 0 * * *"),
		after: "2026-09-05T12:00:00-04:00", want: []string{"2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"},
		comment: "robfig/cron skips 2026-09-06"},
	{name: "Havana: midnight that happens twice fires once", spec: cronIn("America/Havana", "0 0 * * *"),
		after: "2026-10-31T12:00:00-04:00", want: []string{"2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"}},
	{name: "Lord Howe: a 30-minute change", spec: cronIn("Australia/Lord_Howe", "15 2 * * *"),
		after: "2026-10-03T12:00:00+10:30", want: []string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
	{name: "Apia: a skipped day is a correction, not daylight saving", spec: cronIn("Pacific/Apia", "0 12 * * *"),
		after: "2011-12-29T13:00:00-10:00", want: []string{"2011-12-31T12:00:00+14:00", "2012-01-01T12:00:00+14:00"}},
}

func TestFireTimes(t *testing.T) {
	for _, c := range fireCases {
		t.Run(c.name, func(t *testing.T) {
			tr, errs := Parse(c.spec)
			if len(errs) > 0 {
				t.Fatalf("Parse: %v", errs)
			}
			after := mustTime(t, c.after)
			got := tr.Upcoming(after, len(c.want))
			var gotS []string
			for _, g := range got {
				gotS = append(gotS, g.Format(time.RFC3339))
			}
			if strings.Join(gotS, " ") != strings.Join(c.want, " ") {
				t.Errorf("after %s:\n got %v\nwant %v\n(%s)", c.after, gotS, c.want, c.comment)
			}
			for _, g := range got {
				if g.Location().String() != tr.Location().String() {
					t.Errorf("%s is in %s, want the schedule's zone %s", g, g.Location(), tr.Location())
				}
			}
		})
	}
}

// TestRobfigBugsStillThere documents the upstream behaviour the cases above
// work around, so that an upgrade that fixes it is noticed (and the
// workaround can go).
func TestRobfigBugsStillThere(t *testing.T) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, err := p.Parse("30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	s.(*cron.SpecSchedule).Location = berlin
	if n := s.Next(time.Date(2026, 3, 28, 3, 0, 0, 0, berlin)); n.Day() != 30 {
		t.Errorf("robfig/cron no longer skips 2026-03-29 (next %s)", n)
	}
	a := s.Next(time.Date(2026, 10, 24, 3, 0, 0, 0, berlin))
	if b := s.Next(a); b.Day() != 25 {
		t.Errorf("robfig/cron no longer fires twice on 2026-10-25 (%s, %s)", a, b)
	}
	leap, _ := p.Parse("0 0 29 2 *")
	if n := leap.Next(time.Date(2096, 3, 1, 0, 0, 0, 0, time.UTC)); !n.IsZero() {
		t.Errorf("robfig/cron now finds February 29 beyond five years (%s)", n)
	}
	every, _ := p.Parse("@every -5m")
	if d := every.(cron.ConstantDelaySchedule).Delay; d != time.Second {
		t.Errorf("robfig/cron now reads @every -5m as %s", d)
	}
	func() {
		defer func() { _ = recover() }()
		_, _ = p.Parse("TZ=UTC")
		t.Error("robfig/cron no longer panics on a bare TZ= prefix")
	}()
}

func TestParseErrorsNameTheField(t *testing.T) {
	cases := []struct {
		spec  Spec
		field string
		says  string
	}{
		{cronIn("", "0 25 * * *"), "cron[0]", `hour field "25": end of range (25) above maximum (23)`},
		{cronIn("", "60 * * * *"), "cron[0]", `minute field "60"`},
		{cronIn("", "* * 32 * *"), "cron[0]", `day-of-month field "32"`},
		{cronIn("", "* * 0 * *"), "cron[0]", `day-of-month field "0": beginning of range (0) below minimum (1)`},
		{cronIn("", "* * * 13 *"), "cron[0]", `month field "13"`},
		{cronIn("", "* * * JANUARY *"), "cron[0]", `month field "JANUARY"`},
		{cronIn("", "* * * * 7"), "cron[0]", `day-of-week field "7": end of range (7) above maximum (6) (0 to 6 or SUN to SAT; 0 is Sunday)`},
		{cronIn("", "*/0 * * * *"), "cron[0]", `minute field "*/0": step of range should be a positive number`},
		{cronIn("", "5-1 * * * *"), "cron[0]", `beginning of range (5) beyond end of range (1)`},
		{cronIn("", "0 0 * * * *"), "cron[0]", "needs cronSeconds: true"},
		{Spec{Cron: []string{"0 0 * * *"}, CronSeconds: true}, "cron[0]", "cronSeconds is true, so a seconds field comes first"},
		{cronIn("", "0 0 *"), "cron[0]", "has 3 fields; the 5 fields are minute hour day-of-month month day-of-week"},
		{cronIn("", "@dayly"), "cron[0]", "unknown descriptor; use @yearly"},
		{cronIn("", "@every 500ms"), "cron[0]", "@every must be at least 1s"},
		{cronIn("", "@every -5m"), "cron[0]", "@every must be at least 1s"},
		{cronIn("", "@every 1.5s"), "cron[0]", "@every must be whole seconds"},
		{cronIn("", "@every tomorrow"), "cron[0]", "@every needs a duration such as 90m"},
		{cronIn("", "TZ=UTC"), "cron[0]", "a time zone prefix is not allowed here: set timeZone"},
		{cronIn("", "CRON_TZ=Europe/Berlin 0 0 * * *"), "cron[0]", "set timeZone"},
		{cronIn("", "0 0 30 2 *"), "cron[0]", "never fires"},
		{cronIn("", "0 0 31 4,6 *"), "cron[0]", "never fires"},
		{cronIn("", "   "), "cron[0]", "must not be empty"},
		{cronIn("", "0 0 * * *", "0 0 * * * MON"), "cron[1]", "has 6 fields"},
		{cronIn("Mars/Olympus_Mons", "0 0 * * *"), "timeZone", "unknown time zone"},
		{cronIn("Local", "0 0 * * *"), "timeZone", "depends on the controller's machine"},
		{Spec{Interval: 500 * time.Millisecond}, "interval", "must be at least 1s"},
		{Spec{Interval: -time.Minute}, "interval", "must be at least 1s"},
		{Spec{Interval: 1500 * time.Millisecond}, "interval", "must be whole seconds"},
	}
	for _, c := range cases {
		_, errs := Parse(c.spec)
		if len(errs) != 1 {
			t.Errorf("%+v: want one error, got %v", c.spec, errs)
			continue
		}
		if errs[0].Field != c.field || !strings.Contains(errs[0].Detail, c.says) {
			t.Errorf("%+v: got %s: %s\nwant %s: ...%s...", c.spec, errs[0].Field, errs[0].Detail, c.field, c.says)
		}
	}
}

func TestTimeZones(t *testing.T) {
	for _, name := range []string{"", "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"} {
		if _, err := LoadLocation(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	loc, _ := LoadLocation("")
	if loc != time.UTC {
		t.Errorf(`"" is %s, want UTC (never the controller's zone)`, loc)
	}
}

func TestLast(t *testing.T) {
	everyMinute, _ := Parse(cronIn("", "* * * * *"))
	t0 := mustTime(t, "2026-01-01T00:00:30Z")
	cases := []struct {
		name   string
		tr     *Trigger
		after  time.Time
		until  time.Time
		max    int
		first  string
		last   string
		n      int
		more   bool
		budget time.Duration
	}{
		{"none due", everyMinute, t0, t0.Add(20 * time.Second), 5, "", "", 0, false, 0},
		{"one due", everyMinute, t0, t0.Add(40 * time.Second), 5, "2026-01-01T00:01:00Z", "2026-01-01T00:01:00Z", 1, false, 0},
		{"five due, max five", everyMinute, t0, t0.Add(5 * time.Minute), 5, "2026-01-01T00:01:00Z", "2026-01-01T00:05:00Z", 5, false, 0},
		{"six due, max five", everyMinute, t0, t0.Add(6 * time.Minute), 5, "2026-01-01T00:02:00Z", "2026-01-01T00:06:00Z", 5, true, 0},
		{"a year of minutes, the latest", everyMinute, t0, t0.AddDate(1, 0, 0), 1, "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", 1, true, time.Second},
		{"a year of minutes, the newest 100", everyMinute, t0, t0.AddDate(1, 0, 0), 100, "2026-12-31T22:21:00Z", "2027-01-01T00:00:00Z", 100, true, time.Second},
	}
	for _, c := range cases {
		start := time.Now()
		got, more := c.tr.Last(c.after, c.until, c.max)
		if c.budget > 0 && time.Since(start) > c.budget {
			t.Errorf("%s: took %s", c.name, time.Since(start))
		}
		if len(got) != c.n || more != c.more {
			t.Errorf("%s: got %d times (more %v), want %d (more %v)", c.name, len(got), more, c.n, c.more)
			continue
		}
		if c.n > 0 && (got[0].Format(time.RFC3339) != c.first || got[c.n-1].Format(time.RFC3339) != c.last) {
			t.Errorf("%s: got %s..%s, want %s..%s", c.name, got[0].Format(time.RFC3339), got[c.n-1].Format(time.RFC3339), c.first, c.last)
		}
	}
	// A schedule whose fires cluster: every second of one day a year.
	dense, _ := Parse(Spec{Cron: []string{"* * * 1 1 *"}, CronSeconds: true})
	got, more := dense.Last(mustTime(t, "2026-01-01T00:00:00Z"), mustTime(t, "2026-12-31T00:00:00Z"), 3)
	if len(got) != 3 || !more || got[2].Format(time.RFC3339) != "2026-01-01T23:59:59Z" {
		t.Errorf("dense: %v %v", got, more)
	}
}
