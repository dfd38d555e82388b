// Package schedule computes when a Schedule fires and what its runs are
// called: cron expressions (parsed by github.com/robfig/cron/v3) and
// intervals in an IANA time zone, with the daylight-saving rules of ISC
// cron, and the macros of a scheduled run's parameters. It does no I/O;
// the controller, the admission webhook and the provider's plan share it.
package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	// Time zones come from the binary, not the host: the runtime image has
	// no /usr/share/zoneinfo, and a schedule must fire at the same instant
	// wherever the controller runs.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// Spec is what decides a schedule's fire times.
type Spec struct {
	// Cron lists cron expressions; the schedule fires whenever any of
	// them matches.
	Cron []string
	// CronSeconds makes the expressions six fields, seconds first.
	CronSeconds bool
	// Interval fires every Interval from Anchor (0: none).
	Interval time.Duration
	// TimeZone is an IANA name; "" is UTC.
	TimeZone string
	// Anchor is where Interval and @every count from: the schedule's
	// start time, or its creation.
	Anchor time.Time
}

// Error is a problem with one field of a Spec.
type Error struct {
	// Field is the field's name as the API spells it: cron[1],
	// interval, timeZone.
	Field string
	// Value is the offending value.
	Value string
	// Detail says what is wrong and how to fix it.
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %q: %s", e.Field, e.Value, e.Detail) }

// MaxShift is the largest change of a zone's offset that counts as a
// daylight-saving change: as in ISC cron, larger changes (a zone moving to
// another side of the date line) are corrections, and the new time is used
// at once.
const MaxShift = 3 * time.Hour

// Trigger is a parsed Spec.
type Trigger struct {
	loc       *time.Location
	crons     []cronEntry
	intervals []time.Duration
	anchor    time.Time
}

// cronEntry is one cron expression. Its schedule is evaluated in civil
// time (a wall clock with no zone, represented in UTC, where robfig's
// Next has no daylight-saving problems); Trigger maps civil times to
// instants.
type cronEntry struct {
	spec *cron.SpecSchedule
	// hourly is true when the expression matches every hour of the day:
	// ISC cron schedules such jobs by the clock as it runs through a
	// daylight-saving change, and jobs at fixed hours once per wall time.
	hourly bool
}

// Parse checks a Spec and returns its Trigger, or every problem found.
func Parse(s Spec) (*Trigger, []*Error) {
	var errs []*Error
	t := &Trigger{anchor: s.Anchor.Truncate(time.Second)}
	loc, err := LoadLocation(s.TimeZone)
	if err != nil {
		errs = append(errs, &Error{Field: "timeZone", Value: s.TimeZone, Detail: err.Error()})
	}
	t.loc = loc
	if s.Interval != 0 {
		if d := checkInterval(s.Interval); d != "" {
			errs = append(errs, &Error{Field: "interval", Value: s.Interval.String(), Detail: d})
		} else {
			t.intervals = append(t.intervals, s.Interval)
		}
	}
	for i, expr := range s.Cron {
		e, every, detail := parseCron(expr, s.CronSeconds)
		switch {
		case detail != "":
			errs = append(errs, &Error{Field: fmt.Sprintf("cron[%d]", i), Value: expr, Detail: detail})
		case every > 0:
			t.intervals = append(t.intervals, every)
		default:
			t.crons = append(t.crons, e)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

// LoadLocation loads an IANA time zone; "" is UTC. Unlike
// time.LoadLocation it refuses "Local", which would make fire times depend
// on the machine the controller runs on.
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, errors.New(`"Local" depends on the controller's machine; name an IANA time zone such as Europe/Berlin`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone; use an IANA name such as Europe/Berlin or America/New_York")
	}
	return loc, nil
}

// checkInterval explains why d is not a usable interval ("" if it is).
func checkInterval(d time.Duration) string {
	switch {
	case d < time.Second:
		return "must be at least 1s"
	case d%time.Second != 0:
		return "must be whole seconds (fire times have second precision)"
	}
	return ""
}

var (
	fiveFields   = []string{"minute", "hour", "day-of-month", "month", "day-of-week"}
	sixFields    = append([]string{"second"}, fiveFields...)
	standard     = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	withSeconds  = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	descriptors  = "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>"
	allHours     = uint64(1)<<24 - 1
	errNeverFire = errors.New("never fires")
)

// parseCron parses one expression. It returns either a cron entry or,
// for @every, the interval; detail explains a problem, naming the field.
func parseCron(expr string, seconds bool) (entry cronEntry, every time.Duration, detail string) {
	expr = strings.TrimSpace(expr)
	names := fiveFields
	parser := standard
	if seconds {
		names, parser = sixFields, withSeconds
	}
	switch {
	case expr == "":
		return entry, 0, "must not be empty"
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		// robfig/cron reads a zone from this prefix, and panics when no
		// field follows it; the zone is a field of its own here.
		return entry, 0, "a time zone prefix is not allowed here: set timeZone"
	case strings.HasPrefix(expr, "@every"):
		// robfig/cron rounds durations under a second up to one second and
		// truncates fractions, so "@every 500ms" or "@every -5m" would fire
		// every second: check the duration first.
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(expr, "@every")))
		if err != nil {
			return entry, 0, "@every needs a duration such as 90m or 1h30m: " + err.Error()
		}
		if msg := checkInterval(d); msg != "" {
			return entry, 0, "@every " + msg
		}
		return entry, d, ""
	}
	sched, err := parse(parser, expr)
	if err != nil {
		return entry, 0, explain(parser, expr, names, seconds, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return entry, 0, fmt.Sprintf("unsupported schedule %T", sched)
	}
	// Civil time: evaluated in UTC, mapped to the schedule's zone by Trigger.
	spec.Location = time.UTC
	entry = cronEntry{spec: spec, hourly: spec.Hour&allHours == allHours}
	if _, err := entry.nextCivil(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return entry, 0, "matches no date, so it never fires (is the day of the month beyond the month's last day?)"
	}
	return entry, 0, ""
}

// parse calls the parser, turning a panic into an error.
func parse(p cron.Parser, expr string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot be parsed: %v", r)
		}
	}()
	return p.Parse(expr)
}

// explain turns robfig's error, which names neither the field nor the
// remedy, into one that names both: each field is parsed alone to find
// the one at fault.
func explain(parser cron.Parser, expr string, names []string, seconds bool, err error) string {
	if strings.HasPrefix(expr, "@") {
		return fmt.Sprintf("unknown descriptor; use %s", descriptors)
	}
	fields := strings.Fields(expr)
	if len(fields) != len(names) {
		msg := fmt.Sprintf("has %d fields; the %d fields are %s", len(fields), len(names), strings.Join(names, " "))
		switch {
		case !seconds && len(fields) == 6:
			msg += `. A 6-field expression with seconds first (as Kubeflow Pipelines writes "0 0 * * * *") needs cronSeconds: true`
		case seconds && len(fields) == 5:
			msg += ". cronSeconds is true, so a seconds field comes first"
		}
		return msg
	}
	for i, f := range fields {
		probe := slices.Repeat([]string{"*"}, len(names))
		probe[i] = f
		if _, perr := parse(parser, strings.Join(probe, " ")); perr != nil {
			detail := strings.TrimSuffix(perr.Error(), ": "+f)
			if names[i] == "day-of-week" {
				detail += " (0 to 6 or SUN to SAT; 0 is Sunday)"
			}
			return fmt.Sprintf("%s field %q: %s", names[i], f, detail)
		}
	}
	return err.Error()
}

// nextCivil is the first civil time after c that the expression matches.
// robfig's Next gives up (returns zero) when nothing matches within five
// years, which happens to February 29 in the years before 2104 (2100 is no
// leap year): keep looking, from where it gave up, up to 50 years.
func (e cronEntry) nextCivil(c time.Time) (time.Time, error) {
	for range 10 {
		if n := e.spec.Next(c); !n.IsZero() {
			return n, nil
		}
		c = time.Date(c.Year()+5, time.January, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
	}
	return time.Time{}, errNeverFire
}

// Location is the trigger's time zone.
func (t *Trigger) Location() *time.Location { return t.loc }

// Next is the first fire time after the instant after, in the trigger's
// zone; zero when there is none.
func (t *Trigger) Next(after time.Time) time.Time {
	var best time.Time
	for _, d := range t.intervals {
		if n := nextInterval(t.anchor, d, after); best.IsZero() || n.Before(best) {
			best = n
		}
	}
	for _, e := range t.crons {
		if n := e.next(after, t.loc); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	if best.IsZero() {
		return best
	}
	return best.In(t.loc)
}

// nextInterval is the first anchor + k·d (k ≥ 0) after after.
func nextInterval(anchor time.Time, d time.Duration, after time.Time) time.Time {
	if after.Before(anchor) {
		return anchor
	}
	k := after.Sub(anchor)/d + 1
	return anchor.Add(k * d)
}

// civil is the wall-clock time of t at offset off (seconds east of UTC),
// represented in UTC.
func civil(t time.Time, off int) time.Time {
	return time.Unix(t.Unix()+int64(off), int64(t.Nanosecond())).UTC()
}

// instant is the instant whose wall clock at offset off reads c.
func instant(c time.Time, off int) time.Time {
	return time.Unix(c.Unix()-int64(off), 0).UTC()
}

func offsetAt(t time.Time, loc *time.Location) int {
	_, off := t.In(loc).Zone()
	return off
}

// next is the entry's first fire after after in loc. It walks the zone's
// periods (spans of one UTC offset) from after's: inside a period civil
// and real time move together, and at its end the daylight-saving rules of
// ISC cron apply. When the clock skips forward, the wall times it skips
// never happen, and an expression at fixed hours that matches one of them
// fires once, at the first instant after the skip. When the clock falls
// back, an expression at fixed hours fires once per wall time, in the
// first pass; an hourly one fires by the clock, so in both passes.
// Changes of more than MaxShift are not daylight saving: the new wall
// clock applies at once.
func (e cronEntry) next(after time.Time, loc *time.Location) time.Time {
	t := after.In(loc)
	cmin := civil(t, offsetAt(t, loc))
	for range 100 {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		if !start.IsZero() && !e.hourly {
			// In the second pass of a fold, the wall times the first pass
			// showed have fired already.
			prev := offsetAt(start.Add(-time.Nanosecond), loc)
			if shift := time.Duration(off-prev) * time.Second; shift < 0 && -shift <= MaxShift {
				if firstPassEnd := civil(start, prev).Add(-time.Second); cmin.Before(firstPassEnd) {
					cmin = firstPassEnd
				}
			}
		}
		n, err := e.nextCivil(cmin)
		if err != nil {
			return time.Time{}
		}
		i := instant(n, off)
		if end.IsZero() || i.Before(end) {
			return i
		}
		next := offsetAt(end, loc)
		shift := time.Duration(next-off) * time.Second
		if shift > 0 && shift <= MaxShift && !e.hourly && n.Before(civil(end, next)) {
			return end // n falls in the wall times the clock skips
		}
		t = end.In(loc)
		cmin = civil(end, next).Add(-time.Second)
	}
	return time.Time{}
}

// Last returns the newest fire times in (after, until], oldest first, at
// most max of them; more reports that older ones were left out. It looks
// back from until in doubling windows, so a schedule that missed a year
// of fires costs about as much as one that missed max of them.
func (t *Trigger) Last(after, until time.Time, max int) (times []time.Time, more bool) {
	if max <= 0 || !until.After(after) {
		return nil, false
	}
	for w := time.Minute; ; w *= 2 {
		lo := until.Add(-w)
		whole := !lo.After(after) || w > 100*365*24*time.Hour
		if whole {
			lo = after
		}
		times, more = t.window(lo, until, max)
		if more || whole {
			return times, more
		}
		if len(times) == max {
			// Exactly max in the window: more only if one is older.
			if n := t.Next(after); !n.IsZero() && n.Before(times[0]) {
				return times, true
			}
			return times, false
		}
	}
}

// window collects the fire times in (lo, until], keeping the newest max.
func (t *Trigger) window(lo, until time.Time, max int) ([]time.Time, bool) {
	var ring []time.Time
	more := false
	for n := t.Next(lo); !n.IsZero() && !n.After(until); n = t.Next(n) {
		if len(ring) == max {
			ring = ring[1:]
			more = true
		}
		ring = append(ring, n)
	}
	return ring, more
}

// Upcoming returns the next n fire times after after.
func (t *Trigger) Upcoming(after time.Time, n int) []time.Time {
	var out []time.Time
	for next := t.Next(after); !next.IsZero() && len(out) < n; next = t.Next(next) {
		out = append(out, next)
	}
	return out
}
