package kfptest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

// SDKDir is ../shared/testdata/kfp-sdk (the KFP SDK's compiled test
// corpus: valid/, invalid/, source/); the test skips where it is absent.
func SDKDir(t testing.TB) string {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "..", "shared", "testdata", "kfp-sdk")
	if _, err := os.Stat(filepath.Join(dir, "valid")); err != nil {
		t.Skipf("no KFP SDK corpus at %s (checkout outside the kfstack workspace): %v", dir, err)
	}
	return dir
}

// SDKFiles lists the corpus's valid pipelines (YAML and JSON).
func SDKFiles(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(SDKDir(t), "valid")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".json")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// SDKParams are run parameters for the corpus pipelines that have required
// ones, chosen from what their sources (source/*.py) mean them to be.
// %TMP% stands for a scratch directory of the test.
var SDKParams = map[string][]string{
	"arguments_parameters.yaml":                                {"param2=world"},
	"container_io.yaml":                                        {"text=kfstack"},
	"container_with_artifact_output.yaml":                      {"num_epochs=5"},
	"containerized_python_component.yaml":                      {"message1=Hello, ", "message2=world"},
	"critical_add_numbers.yaml":                                {"a=1", "b=2"},
	"env-var.yaml":                                             {"env_var=HOME"},
	"essential_concat_message.yaml":                            {"message1=a", "message2=b"},
	"essential_dict_input.yaml":                                {`struct={"a": 1, "b": 2}`},
	"essential_lightweight_python_functions_pipeline.yaml":     {"message=hello"},
	"essential_lightweight_python_functions_with_outputs.yaml": {"first_message=a", "first_number=1", "second_message=b", "second_number=2"},
	"identity.yaml":                                            {"value=v"},
	"local_execution_local_execution_pipeline_with_ignore_upstream_failure.yaml": {"marker_path=%TMP%/marker"},
	"local_execution_local_execution_pipeline_with_retry.yaml":                   {"counter_path=%TMP%/counter"},
	"pipeline_with_condition_dynamic_task_output_custom_training_job.yaml":       {"location=us-central1", "project=my-project"},
	"pipeline_with_dynamic_task_output_custom_training_job.yaml":                 {"location=us-central1", "project=my-project"},
	"pipeline_with_metadata_fields.yaml":                                         {"string=some string"},
	"pipeline_with_parallelfor_pipeline_param.yaml":                              {`loop_parameter=["a", "b", "c"]`, "prefix=item"},
	"preprocess.yaml":                      {`input_dict_parameter={"a": 1}`, "input_list_parameter=[1, 2]", "message=m"},
	"pvc_mount.yaml":                       {"pvc_name=my-pvc"},
	"sequential_v2.yaml":                   {"url=%TMP%/source.txt"},
	"upload_download_compiled.yaml":        {"bucket_name=bucket", "mlpipeline_minio_artifact_secret=mlpipeline-minio-artifact"},
	"take_nap_compiled.yaml":               {"naptime_secs=1"},
	"take_nap_pipeline_root_compiled.yaml": {"naptime_secs=1"},
}

// SDKArtifacts are input artifacts for the corpus pipelines whose root
// takes some (components compiled as pipelines); %TMP%/source.txt is a
// small text file the test writes.
var SDKArtifacts = map[string][]string{
	"input_artifact.yaml":                 {"data=%TMP%/source.txt"},
	"component_with_metadata_fields.yaml": {"dataset_a=%TMP%/source.txt", "dataset_b=%TMP%/source.txt"},
	"pipeline_with_metadata_fields.yaml":  {"in_dataset=%TMP%/source.txt"},
}

// Kind says why a corpus pipeline ends the way it does on the local
// executor.
type Kind string

// Kinds of local runs.
const (
	// KindContainer is made of container components only (shell commands).
	KindContainer Kind = "container components"
	// KindPython has Python-function components that need only kfp: they
	// run to success with Debian's python3 and kfstack's built-in kfp.
	KindPython Kind = "Python components, kfp only"
	// KindIntended fails on purpose (a failing task, an exit handler test).
	KindIntended Kind = "fails on purpose"
	// KindPackages needs Python packages beside kfp that the machine lacks;
	// the task fails naming them.
	KindPackages Kind = "needs other Python packages"
	// KindCluster needs what only a pod has (secrets, PVC mounts, pod fields).
	KindCluster Kind = "needs a cluster"
	// KindNetwork reads from Cloud Storage or another service.
	KindNetwork Kind = "needs network services"
	// KindImage needs the code its own image ships.
	KindImage Kind = "needs its own image"
	// KindStatusName asserts the KFP backend's own name for a final state.
	KindStatusName Kind = "asserts KFP's backend-specific state name"
)

// LocalRun is what a corpus pipeline does on the local executor.
type LocalRun struct {
	// Kind says why it ends as it does.
	Kind Kind
	// Want are substrings of the run's output, in order.
	Want []string
}

// LocalRuns are the expected local runs of the Python-component pipelines
// of the corpus, besides KindPython ones that succeed with nothing special
// to check (those are every Python pipeline not listed). Outputs are
// printed as the run summary prints them.
var LocalRuns = map[string]LocalRun{
	"conditional_producer_and_consumers.yaml":                             {KindPython, []string{"Output = 10"}},
	"critical_add_numbers.yaml":                                           {KindPython, []string{"Output = 3"}},
	"critical_parameters_simple.yaml":                                     {KindPython, []string{"Output = [2,4,6]"}},
	"critical_pipeline_with_importer_workspace.yaml":                      {KindPython, []string{`dir_result = "part-000.txt,part-001.txt"`, `train_result = "123"`}},
	"critical_pipeline_with_workspace.yaml":                               {KindPython, []string{`Output = "Hello from workspace!"`}},
	"env-var.yaml":                                                        {KindPython, []string{`Output = "/root"`}},
	"essential_component_with_env_variable.yaml":                          {KindPython, []string{`Output = "env_var_value"`}},
	"essential_concat_message.yaml":                                       {KindPython, []string{`Output = "ab"`}},
	"identity.yaml":                                                       {KindPython, []string{`Output = "v"`}},
	"if_elif_else_with_oneof_parameters.yaml":                             {KindPython, []string{"Output = "}},
	"if_else_with_oneof_parameters.yaml":                                  {KindPython, []string{`Output = "Got `}},
	"local_execution_local_execution_pipeline_with_k8s_only_methods.yaml": {KindPython, []string{"does not reserve or limit resources", `Output = "hello"`}},
	"local_execution_local_execution_pipeline_with_oneof.yaml":            {KindPython, []string{`Output = "selected:A"`}},
	"local_execution_local_execution_pipeline_with_retry.yaml":            {KindPython, []string{"(attempt 2)", `Output = "attempt=2"`}},
	"local_execution_pipeline_with_caching.yaml":                          {KindPython, []string{"Output = 2"}},
	"local_execution_pipeline_with_collected_artifacts.yaml":              {KindPython, []string{`Output = "0,1,2"`}},
	"nested_return.yaml":                                                  {KindPython, []string{`Output = [{"A_a":"1","B_b":"2"},{"A_a":"10","B_b":"20"}]`}},
	"nested_with_parameters.yaml":                                         {KindPython, []string{"Output = [[4,6,8],[6,8,10],[8,10,12]]"}},
	"parameters_complex.yaml":                                             {KindPython, []string{"Output = 306"}},
	"pipeline_producer_consumer.yaml":                                     {KindPython, []string{"Output = 36"}},
	"preprocess.yaml":                                                     {KindPython, []string{"output_bool_parameter_path = true", `output_dict_parameter_path = {"a":1}`, "output_list_parameter_path = [1,2]", `output_parameter_path = "m"`}},
	"critical_pipeline_with_pod_metadata.yaml":                            {KindPython, []string{"validate-pod-metadata-task-a", "Succeeded"}},
	"essential_pipeline_with_metrics_outputs.yaml":                        {KindPython, []string{"metrics -> file://"}},
	"output_metrics.yaml":                                                 {KindPython, []string{"metrics -> file://"}},
	"pythonic_artifacts_with_multiple_returns.yaml":                       {KindPython, []string{"Output -> file://", "dataset1"}},
	"critical_pipeline_with_artifact_custom_path.yaml":                    {KindPython, []string{"out_dataset -> file://"}},
	// With Debian's python3-sklearn (else it needs other packages).
	"metrics_visualization_v2.yaml": {KindPython, []string{"metrics:", `digit-classification/metrics: {"accuracy":`, "confusionMatrix"}},

	"failing_fail_v2.yaml":                                                       {KindIntended, []string{`task "fail" failed`}},
	"failing_pipeline_with_multiple_exit_handlers.yaml":                          {KindIntended, []string{"print-op-3", "Succeeded", `task "exit-handler-1" failed`}},
	"pipeline_as_exit_task.yaml":                                                 {KindIntended, []string{"conditional-notification/condition-1/print-op Succeeded", `task "exit-handler-1" failed`}},
	"pipeline_with_task_final_status.yaml":                                       {KindIntended, []string{"exit-op", "Succeeded", `task "exit-handler-1" failed`}},
	"pipeline_with_task_using_ignore_upstream_failure.yaml":                      {KindIntended, []string{"print-op", "Succeeded", `task "fail-op" failed`}},
	"local_execution_local_execution_pipeline_with_ignore_upstream_failure.yaml": {KindIntended, []string{"RuntimeError: upstream failed intentionally"}},

	"critical_notebook_component_simple.yaml":              {KindPackages, []string{"nbclient>=0.10,<1"}},
	"notebook_component_mixed.yaml":                        {KindPackages, []string{"nbclient>=0.10,<1"}},
	"critical_pipeline_with_artifact_upload_download.yaml": {KindPackages, []string{"datasets==4.0.0"}},
	"critical_pipeline_with_submit_request.yaml":           {KindPackages, []string{"requests"}},
	"essential_component_with_pip_index_urls.yaml":         {KindPackages, []string{"yapf"}},
	"essential_component_with_pip_install.yaml":            {KindPackages, []string{"yapf"}},
	"essential_component_with_pip_install_in_venv.yaml":    {KindPackages, []string{"yapf"}},
	"essential_iris_pipeline_compiled.yaml":                {KindPackages, []string{"pandas==2.2.0"}},
	"integration_ray_integration_compiled.yaml":            {KindPackages, []string{"codeflare-sdk==0.32.2"}},
	"pipeline_with_google_artifact_type.yaml":              {KindPackages, []string{"aiplatform"}},
	"upload_download_compiled.yaml":                        {KindPackages, []string{"minio"}},

	"critical_pipeline_with_secret_as_env.yaml": {KindCluster, []string{"secrets as environment variables", "AssertionError"}},
	"pipeline_with_secret_as_volume.yaml":       {KindCluster, []string{"secrets as volumes", "Secret not found"}},
	"pipeline_with_volume.yaml":                 {KindCluster, []string{"creates no PersistentVolumeClaim", "PVC mounts", "/data/file.txt"}},
	"pipeline_with_volume_no_cache.yaml":        {KindCluster, []string{"creates no PersistentVolumeClaim", "PVC mounts", "/data/file.txt"}},
	"pvc_mount.yaml":                            {KindCluster, []string{"PVC mounts", "/data/file.txt"}},
	// Its third task reads environment variables from pod fields that no
	// setting of the pipeline gives it; it needs the pod KFP would make.
	"create_pod_metadata_complex.yaml": {KindCluster, []string{"validate-no-pod-metadata"}},

	"pipeline_with_importer_and_gcpc_types.yaml": {KindNetwork, []string{"gs://ml-pipeline-playground/shakespeare1.txt"}},
	// Downloads the Chicago taxi data set, and trains with XGBoost images.
	"xgboost_sample_pipeline.yaml":              {KindNetwork, []string{"chicago-taxi-trips-dataset"}},
	"components_with_optional_artifacts.yaml":   {KindNetwork, []string{"gs://ml-pipeline-playground/shakespeare1.txt"}},
	"pipeline_with_importer.json":               {KindNetwork, []string{"gs://ml-pipeline-playground/shakespeare1.txt"}},
	"pipeline_with_importer.yaml":               {KindNetwork, []string{"gs://ml-pipeline-playground/shakespeare1.txt"}},
	"pythonic_artifact_with_single_return.yaml": {KindNetwork, []string{"gs://ml-pipeline-playground/shakespeare1.txt"}},
	"critical_modelcar.yaml":                    {KindNetwork, []string{"build-model-car", "Succeeded", "oci://registry.domain.local/modelcar:test"}},

	"containerized_python_component.yaml":                                  {KindImage, []string{"kfp_config.ini"}},
	"pipeline_with_condition_dynamic_task_output_custom_training_job.yaml": {KindImage, []string{"google_cloud_pipeline_components"}},
	"pipeline_with_dynamic_task_output_custom_training_job.yaml":           {KindImage, []string{"google_cloud_pipeline_components"}},

	// KFP's backend passes ML Metadata's "COMPLETE" as a succeeded task's
	// final state; the SDK's and the pipeline spec's documented value,
	// which kfstack passes, is "SUCCEEDED".
	"critical_pipeline_with_input_status_state.yaml": {KindStatusName, []string{"status.state == 'COMPLETE'"}},
}
