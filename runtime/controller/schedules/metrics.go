package schedules

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// fireLateness is the time from a fire's scheduled time to its run's
	// creation: on_time for fires made at their time (the controller's
	// precision), catch_up for missed fires made late on purpose.
	fireLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kfstack_schedule_fire_lateness_seconds",
		Help:    "Seconds from a schedule's fire time to the creation of its run (fire: on_time or catch_up).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
	}, []string{"fire"})
	// firesTotal counts fires by result: created (a run), adopted (its run
	// existed: made before a restart or by another controller), missed
	// (skipped by the catch-up, concurrency or deadline policies), failed
	// (the run was refused).
	firesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kfstack_schedule_fires_total",
		Help: "Fires of schedules by result: created, adopted, missed, failed.",
	}, []string{"result"})
)

func init() {
	metrics.Registry.MustRegister(fireLateness, firesTotal)
}
