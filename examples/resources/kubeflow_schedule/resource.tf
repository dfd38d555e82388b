# Train every night at 02:00 in Berlin (at 03:00 on the night the clocks
# skip 02:00, once on the night they repeat it). Runs are named
# nightly-training-<unix seconds of the fire time>.
resource "kubeflow_schedule" "nightly" {
  name      = "nightly-training"
  namespace = "team-vision"
  cron      = ["0 2 * * *"]
  time_zone = "Europe/Berlin"

  concurrency_policy  = "Forbid" # a fire while last night's run still runs is missed...
  catchup             = "Latest" # ...and runs once that run ends
  starting_deadline   = "6h"     # but not after 08:00
  stop_after_failures = 3        # suspend after three failures in a row

  successful_runs_history_limit = 14
  failed_runs_history_limit     = 5

  run = {
    pipeline        = kubeflow_pipeline.train.name # the latest version at each fire
    service_account = "pipeline-runner"
    pipeline_root   = "gs://team-vision-artifacts/pipelines"
    timeout         = "4h"
    experiment      = "nightly"
    parameters = {
      date  = "[[ScheduledTime.2006-01-02]]" # the night the run is for
      run   = "[[Index]]"
      epoch = "20"
    }
  }
}

# Kubeflow Pipelines' six-field cron, pasted as is.
resource "kubeflow_schedule" "hourly" {
  name         = "hourly-eval"
  namespace    = "team-vision"
  cron         = ["0 0 * * * *"]
  cron_seconds = true

  run = {
    pipeline = kubeflow_pipeline.eval.name
  }
}

# Every 90 minutes from a start time, until the end of the year.
resource "kubeflow_schedule" "sweep" {
  name       = "sweep"
  namespace  = "team-vision"
  interval   = "90m"
  start_time = "2026-12-01T08:00:00+01:00"
  end_time   = "2027-01-01T00:00:00+01:00"

  concurrency_policy = "Allow"
  max_concurrency    = 3

  run = {
    pipeline         = kubeflow_pipeline.sweep.name
    pipeline_version = 4
  }
}

output "next_training" {
  value = kubeflow_schedule.nightly.next_run_times[0]
}
