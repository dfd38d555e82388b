package pyexec

import (
	"fmt"
	"strings"
)

// Component is a recognised KFP Python-function component command.
type Component struct {
	// Requirements are what the SDK's prelude would pip install
	// (packages_to_install and kfp itself), as requirement strings.
	Requirements []string
	// IndexURLs are the package indexes the prelude names.
	IndexURLs []string
	// Command is what runs the component once the prelude is done: the
	// prelude's "$0" "$@", or the whole command when there is no prelude
	// (a containerized Python component).
	Command []string
	// HasPrelude is set when the command starts with the SDK's prelude.
	HasPrelude bool
}

// Extras are the requirements besides kfp itself and its helper
// typing-extensions: what the component's own code needs.
func (c *Component) Extras() []string {
	var out []string
	for _, r := range c.Requirements {
		switch RequirementName(r) {
		case "kfp", "typing-extensions":
			continue
		}
		out = append(out, r)
	}
	return out
}

// Recognise tells whether argv runs a KFP Python-function component:
// `sh -c PRELUDE sh -ec PROGRAM SOURCE ARGS...` as the SDK compiles
// `@dsl.component` (PRELUDE pip-installs kfp and packages_to_install, then
// runs "$0" "$@"), or a command that calls `python3 -m
// kfp.dsl.executor_main` directly (containerized components, or a prelude
// the SDK's option use_venv or pip_index_urls changed).
func Recognise(argv []string) (*Component, bool) {
	if len(argv) >= 4 && isShell(argv[0]) && argv[1] == "-c" && isPrelude(argv[2]) && mentionsExecutor(argv[3:]) {
		c := &Component{Command: append([]string(nil), argv[3:]...), HasPrelude: true}
		c.Requirements, c.IndexURLs = pipRequirements(argv[2])
		return c, true
	}
	if mentionsExecutor(argv) {
		return &Component{Command: append([]string(nil), argv...)}, true
	}
	return nil, false
}

func isShell(s string) bool {
	switch s {
	case "sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash":
		return true
	}
	return false
}

// isPrelude matches the SDK's prelude: it installs with pip and hands over
// to its arguments.
func isPrelude(script string) bool {
	s := strings.TrimSpace(script)
	return strings.Contains(s, "pip install") && strings.HasSuffix(s, `"$0" "$@"`)
}

func mentionsExecutor(args []string) bool {
	for _, a := range args {
		if strings.Contains(a, "kfp.dsl.executor_main") {
			return true
		}
	}
	return false
}

// pipOptionsWithValue are pip install options that take the next word.
var pipOptionsWithValue = map[string]bool{
	"-i": true, "--index-url": true, "--extra-index-url": true, "--trusted-host": true,
	"-f": true, "--find-links": true, "-c": true, "--constraint": true, "-r": true, "--requirement": true,
	"--target": true, "-t": true, "--prefix": true, "--root": true, "--platform": true,
	"--python-version": true, "--implementation": true, "--abi": true, "--src": true, "--upgrade-strategy": true,
}

// pipRequirements reads every `pip install` of a prelude script.
func pipRequirements(script string) (reqs, indexes []string) {
	words := shellWords(script)
	for i := 0; i < len(words); i++ {
		if words[i] != "pip" || i+1 >= len(words) || words[i+1] != "install" {
			continue
		}
		for j := i + 2; j < len(words); j++ {
			w := words[j]
			if w == "&&" || w == "||" || w == ";" || w == "|" || w == "\n" {
				i = j
				break
			}
			if strings.HasPrefix(w, "-") {
				name, value, hasValue := strings.Cut(w, "=")
				if pipOptionsWithValue[name] {
					if !hasValue && j+1 < len(words) {
						j++
						value = words[j]
					}
					if name == "-i" || name == "--index-url" || name == "--extra-index-url" {
						indexes = append(indexes, value)
					}
				}
				continue
			}
			reqs = append(reqs, w)
		}
	}
	return reqs, indexes
}

// RequirementName is the normalised distribution name of a requirement
// string ("scikit-learn>=1.0; python_version<'3.9'" is scikit-learn).
func RequirementName(req string) string {
	r := strings.TrimSpace(req)
	end := strings.IndexFunc(r, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.'
	})
	if end >= 0 {
		r = r[:end]
	}
	r = strings.ToLower(r)
	return strings.NewReplacer("_", "-", ".", "-").Replace(r)
}

// shellWords splits a POSIX shell script into words, keeping the control
// operators (&&, ||, ;, |) and newlines as words of their own. Quotes and
// backslashes are removed as the shell would; expansions stay as written.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
				continue
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				cur.WriteByte(s[i])
			}
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] != '\n' {
				inWord = true
				cur.WriteByte(s[i])
			}
		case c == ' ' || c == '\t':
			flush()
		case c == '\n' || c == ';':
			flush()
			words = append(words, string(c))
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			flush()
			words = append(words, s[i:i+2])
			i++
		case c == '|':
			flush()
			words = append(words, "|")
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i--
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flush()
	return words
}

// FunctionCheck reports a component whose --function_to_execute names no
// function of the Python source compiled into it (the SDK's
// `sh -ec PROGRAM SOURCE` form): a typo the executor would only find when
// the task runs. argv is the command and args as written, placeholders
// unresolved. It returns "" when all is well or the form is another.
func FunctionCheck(argv []string) string {
	c, ok := Recognise(argv)
	if !ok || !c.HasPrelude || len(c.Command) < 4 || !isShell(c.Command[0]) || !strings.HasPrefix(c.Command[1], "-") {
		return ""
	}
	source := c.Command[3]
	name := ""
	for i, a := range c.Command {
		if a == "--function_to_execute" && i+1 < len(c.Command) {
			name = c.Command[i+1]
		}
	}
	if name == "" || strings.Contains(name, "{{") || !strings.Contains(source, "def ") {
		return ""
	}
	var defined []string
	for _, line := range strings.Split(source, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimLeft(strings.TrimPrefix(line, "async "), ""), "def ")
		if !ok || line != strings.TrimLeft(line, " \t") {
			continue // only top-level functions can be executed
		}
		fn := strings.TrimSpace(rest)
		if i := strings.IndexAny(fn, "( \t"); i >= 0 {
			fn = fn[:i]
		}
		if fn == name {
			return ""
		}
		defined = append(defined, fn)
	}
	if len(defined) == 0 {
		return fmt.Sprintf("--function_to_execute %q: the component's Python source defines no function", name)
	}
	return fmt.Sprintf("--function_to_execute %q names no function of the component's Python source (it defines %s)", name, strings.Join(defined, ", "))
}
