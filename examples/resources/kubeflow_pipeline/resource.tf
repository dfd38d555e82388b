# A pipeline compiled by the KFP SDK (`kfp dsl compile`).
resource "kubeflow_pipeline" "train" {
  name        = "train"
  namespace   = "team-vision"
  description = "Trains the classifier"
  spec        = file("${path.module}/pipeline.yaml")
}

# A native DAG written in HCL: tasks run the same launcher as KFP
# components and use the same placeholders.
resource "kubeflow_pipeline" "report" {
  name         = "report"
  namespace    = "team-vision"
  max_versions = 5
  dag = {
    parameters = { rows = { type = "int", default = "1000" } }
    tasks = [
      {
        name    = "sample"
        image   = "python:3.12-slim"
        command = ["sh", "-c", "seq \"$0\" | wc -l | tr -d ' \\n' > \"$1\""]
        args    = ["{{$.inputs.parameters['rows']}}", "{{$.outputs.parameters['count'].output_file}}"]
        inputs  = { rows = { parameter = "rows" } }
        outputs = { count = "int" }
      },
      {
        name      = "train"
        image     = "us-docker.pkg.dev/my-project/ml/train:1.4"
        command   = ["python", "-m", "train", "--rows", "{{$.inputs.parameters['count']}}"]
        inputs    = { count = { task = "sample", output = "count" } }
        resources = { gpu = 1, gpu_type = "nvidia-l4", memory = "16Gi" }
        retries   = 2
        timeout   = "2h"
      },
    ]
    outputs = { count = { task = "sample", output = "count" } }
  }
}
