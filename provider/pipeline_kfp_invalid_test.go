package provider

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
)

// TestAccPipeline_invalidKFPFiles plans kubeflow_pipeline with every
// text file among the KFP SDK's bad inputs and ours
// (runtime/pipeline/testdata/invalid): each is refused at plan time with
// its one clear error on the spec attribute. (The SDK's binary bad inputs
// cannot reach a plan: Terraform's file() refuses them first.)
func TestAccPipeline_invalidKFPFiles(t *testing.T) {
	sdk := filepath.Join(kfptest.SDKDir(t), "invalid")
	cases := map[string]string{
		filepath.Join(sdk, "empty_file.yaml"):   "the file is empty",
		filepath.Join(sdk, "invalid_yaml.yaml"): `unknown field "components_1" of a pipeline spec`,
		filepath.Join(sdk, "no_name.yaml"):      "pipelineInfo.name: a pipeline needs a name",
	}
	own, _ := filepath.Glob(filepath.Join("..", "runtime", "pipeline", "testdata", "invalid", "*.yaml"))
	for _, f := range own {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		cases[f] = strings.TrimPrefix(first, "# want: ")
	}
	files := make([]string, 0, len(cases))
	for f := range cases {
		files = append(files, f)
	}
	sort.Strings(files)
	var steps []resource.TestStep
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		// Terraform wraps long diagnostics: any run of spaces may break.
		want := strings.Join(strings.Fields(regexp.QuoteMeta(cases[f])), `\s+`)
		steps = append(steps, resource.TestStep{
			Config:      pipelineConfig("unused", `spec = file(`+strconvQuote(abs)+`)`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)invalid pipeline spec.*` + want),
		})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}

func strconvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
