# The quickstart: team environments, the pipeline runtime, two pipelines
# (one compiled by the KFP SDK, one written in HCL), a run of each and
# nightly schedules, on the local cluster that `make demo` starts (or on
# any cluster: set kubeconfig).
terraform {
  required_providers {
    kubeflow = {
      source = "kfstack/kubeflow"
    }
  }
}

variable "kubeconfig" {
  description = "Path of the cluster's kubeconfig."
  type        = string
}

variable "runtime_replicas" {
  description = "Replicas of the runtime controller. make demo sets 0 and runs the controller on this machine: the local cluster's nodes are simulated."
  type        = number
  default     = 1
}

variable "executor" {
  description = "How runs execute tasks: pod (one pod per task) or local (processes of the controller; make demo)."
  type        = string
  default     = "pod"
}

variable "sklearn" {
  description = "Apply the scikit-learn pipeline (examples/sklearn) and a run of it. Its tasks need Python with scikit-learn: Debian's python3-sklearn for the local executor (make demo installs it where it can), an image with both for pods (make image builds one)."
  type        = bool
  default     = true
}

variable "pipeline_root" {
  description = "Where runs keep artifacts (gs://, s3://, file://); the controller's default when null."
  type        = string
  default     = null
}

provider "kubeflow" {
  config_path = var.kubeconfig
}

# Two teams from the profiles module: one on GPUs, one on TPUs.
module "teams" {
  source = "../../modules/profiles"

  teams = {
    vision = {
      owner        = "alice@example.com"
      contributors = [{ name = "bob@example.com" }, { name = "ml-auditors", kind = "group", role = "view" }]
      cpu          = "64"
      memory       = "256Gi"
      gpu          = 8
    }
    language = {
      owner  = "carol@example.com"
      cpu    = "96"
      memory = "384Gi"
      tpu    = 4
    }
  }

  default_limits = {
    cpu            = "2"
    memory         = "8Gi"
    request_cpu    = "250m"
    request_memory = "512Mi"
  }

  # The vision team counts the words of its reports every night at 02:00
  # in Berlin; the runs use the team's pipeline service account.
  schedules = {
    vision = {
      "word-count-nightly" = {
        pipeline           = kubeflow_pipeline.vision_word_count.name
        cron               = ["0 2 * * *"]
        time_zone          = "Europe/Berlin"
        concurrency_policy = "Forbid"
        parameters         = { text = "the reports of [[ScheduledTime.2006-01-02]]" }
        executor           = var.executor
        pipeline_root      = var.pipeline_root
      }
    }
  }
}

# A profile written out in full.
resource "kubeflow_profile" "platform" {
  name  = "platform-sandbox"
  owner = { name = "platform-admins", kind = "group" }

  resource_quota = {
    cpu  = "8"
    gpu  = 1
    pods = 50
  }
}

# The pipeline runtime: CRDs, RBAC and the controller.
resource "kubeflow_runtime" "this" {
  replicas = var.runtime_replicas
}

# A pipeline compiled by the KFP SDK (see the Python source at the top of
# the file): write a corpus artifact, count its words.
resource "kubeflow_pipeline" "word_count" {
  name        = "word-count"
  namespace   = kubeflow_profile.platform.id
  description = "Counts the words of a text"
  spec        = file("${path.module}/pipelines/word_count.yaml")

  depends_on = [kubeflow_runtime.this]
}

# The same kind of pipeline written in HCL: the tasks use KFP's
# placeholders and pass a parameter from one to the next.
resource "kubeflow_pipeline" "triangle" {
  name        = "triangle"
  namespace   = kubeflow_profile.platform.id
  description = "Sums 1..n"
  dag = {
    parameters = { n = { type = "int", default = "10" } }
    tasks = [
      {
        name    = "terms"
        image   = "alpine"
        command = ["sh", "-c", "seq 1 \"$0\" | tr '\\n' + | sed 's/+$//' > \"$1\""]
        args    = ["{{$.inputs.parameters['n']}}", "{{$.outputs.parameters['expr'].output_file}}"]
        inputs  = { n = { parameter = "n" } }
        outputs = { expr = "string" }
      },
      {
        name    = "sum"
        image   = "alpine"
        command = ["sh", "-c", "echo $(($0)) > \"$1\""]
        args    = ["{{$.inputs.parameters['expr']}}", "{{$.outputs.parameters['total'].output_file}}"]
        inputs  = { expr = { task = "terms", output = "expr" } }
        outputs = { total = "int" }
      },
    ]
    outputs = { total = { task = "sum", output = "total" } }
  }

  depends_on = [kubeflow_runtime.this]
}

# The word count again, in the vision team's namespace, for its schedule.
resource "kubeflow_pipeline" "vision_word_count" {
  name      = "word-count"
  namespace = module.teams.namespaces["vision"]
  spec      = file("${path.module}/pipelines/word_count.yaml")

  depends_on = [kubeflow_runtime.this]
}

# The triangle every six hours: a run per fire, named
# triangle-every-6h-<unix seconds of the fire time>; fires missed while
# the controller was down run once, for the latest; the last 5 succeeded
# runs are kept. Every change of it applies in place from the next fire.
resource "kubeflow_schedule" "triangle" {
  name                          = "triangle-every-6h"
  namespace                     = kubeflow_profile.platform.id
  cron                          = ["0 */6 * * *"]
  successful_runs_history_limit = 5

  run = {
    pipeline      = kubeflow_pipeline.triangle.name
    parameters    = { n = "[[Index]]" }
    executor      = var.executor
    pipeline_root = var.pipeline_root
  }
}

# A run of each; apply waits until they finish and fails, naming the
# task, if one fails.
resource "kubeflow_run" "word_count" {
  name          = "word-count-1"
  namespace     = kubeflow_profile.platform.id
  pipeline      = kubeflow_pipeline.word_count.name
  parameters    = { text = "one apply gives a team a namespace, a quota and its pipelines" }
  executor      = var.executor
  pipeline_root = var.pipeline_root
}

resource "kubeflow_run" "triangle" {
  name          = "triangle-1"
  namespace     = kubeflow_profile.platform.id
  pipeline      = kubeflow_pipeline.triangle.name
  parameters    = { n = "100" }
  executor      = var.executor
  pipeline_root = var.pipeline_root
}

# Machine learning: two scikit-learn classifiers on a data set scikit-learn
# ships, with a hyper-parameter of each from the run's parameters; the
# better model is kept. The spec is what the KFP SDK compiles from
# examples/sklearn/pipeline.py; its Python components run without the kfp
# package installed (kfstack brings its own component runtime).
resource "kubeflow_pipeline" "sklearn" {
  count       = var.sklearn ? 1 : 0
  name        = "sklearn-classifiers"
  namespace   = kubeflow_profile.platform.id
  description = "Logistic regression against a random forest"
  spec        = file("${path.module}/../sklearn/pipeline.yaml")

  depends_on = [kubeflow_runtime.this]
}

resource "kubeflow_run" "sklearn" {
  count         = var.sklearn ? 1 : 0
  name          = "sklearn-iris-1"
  namespace     = kubeflow_profile.platform.id
  pipeline      = kubeflow_pipeline.sklearn[0].name
  parameters    = { dataset = "iris", regularization = "0.5", n_estimators = "100" }
  executor      = var.executor
  pipeline_root = var.pipeline_root
}

output "sklearn" {
  description = "The scikit-learn run: the model kept and its accuracy, and every metrics artifact (accuracy, F1, confusion matrix) by task."
  value = var.sklearn ? {
    phase   = kubeflow_run.sklearn[0].phase
    outputs = kubeflow_run.sklearn[0].outputs
    metrics = { for k, v in kubeflow_run.sklearn[0].metrics : k => jsondecode(v) }
  } : null
}

output "run_outputs" {
  description = "Each run's phase and outputs (JSON values)."
  value = {
    for name, run in { word_count = kubeflow_run.word_count, triangle = kubeflow_run.triangle } :
    name => { phase = run.phase, outputs = run.outputs }
  }
}

output "schedules" {
  description = "Each schedule's next fire times."
  value = merge(
    { for key, s in module.teams.schedules : key => s.next_run_times },
    { "platform/triangle-every-6h" = kubeflow_schedule.triangle.next_run_times },
  )
}

output "namespaces" {
  value = merge(module.teams.namespaces, { platform = kubeflow_profile.platform.id })
}

output "pipeline_service_accounts" {
  value = module.teams.service_accounts
}
