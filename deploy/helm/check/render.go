// render: renders a Helm chart the way `helm template` does, without Helm (not packaged in
// Debian 12). It is built from Debian's Go packages only: Go's text/template, the real Sprig
// library (golang-github-masterminds-sprig-dev) and sigs.k8s.io/yaml, the YAML library Helm and
// Kubernetes use.
//
// What it reproduces from Helm 3's engine (helm.sh/helm/v3/pkg/engine):
//   - every file under templates/ is parsed into one template set named
//     "<chart>/templates/<file>"; files whose name starts with "_" only define named templates,
//     NOTES.txt is not rendered;
//   - functions: Sprig's TxtFuncMap without env and expandenv, plus Helm's include, tpl,
//     required, fail, toYaml, fromYaml, fromYamlArray, toJson, fromJson, lookup (always empty, as
//     under `helm template`);
//   - objects: .Values (values.yaml coalesced with each -f file in order: maps merge
//     recursively, a null deletes a key), .Release (Name, Namespace, Service, IsInstall,
//     IsUpgrade, Revision), .Chart (Chart.yaml with Helm's capitalised field names),
//     .Capabilities (KubeVersion, APIVersions.Has), .Template (Name, BasePath);
//   - missingkey=zero with "<no value>" replaced by "", as Helm does;
//   - output "---\n# Source: <chart>/templates/<file>\n<text>" for every non-empty document.
//
// Usage: render [-f values.yaml]... [--name R] [--namespace N] [--json] CHART_DIR
// With --json the rendered documents are parsed back (sigs.k8s.io/yaml, as kubectl does) and
// printed as one JSON array of {"source": ..., "object": ...}: what the validator checks.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// apiVersions answers .Capabilities.APIVersions.Has like Helm's default capabilities.
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// coalesce merges src over dst as Helm does for -f files: nested maps merge, a nil deletes.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, srcIsMap := v.(map[string]interface{})
		dm, dstIsMap := dst[k].(map[string]interface{})
		if srcIsMap && dstIsMap {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// chartObject maps Chart.yaml's keys to the field names templates use (.Chart.AppVersion).
func chartObject(meta map[string]interface{}) map[string]interface{} {
	names := map[string]string{
		"apiVersion": "APIVersion", "name": "Name", "version": "Version",
		"appVersion": "AppVersion", "description": "Description", "type": "Type",
		"kubeVersion": "KubeVersion", "keywords": "Keywords", "home": "Home",
		"sources": "Sources", "maintainers": "Maintainers", "icon": "Icon",
		"annotations": "Annotations", "deprecated": "Deprecated",
	}
	out := map[string]interface{}{}
	for k, v := range meta {
		if n, ok := names[k]; ok {
			out[n] = v
		}
	}
	return out
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "" // Helm swallows the error the same way
	}
	return strings.TrimSuffix(string(data), "\n")
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

type renderer struct {
	root *template.Template
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["toJson"] = toJSON
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

type document struct {
	Source string      `json:"source"`
	Object interface{} `json:"object"`
}

// chartFiles is Helm's .Files: the chart's own files by path relative to the chart root.
// Get returns "" for a missing file (as Helm does) and never reads outside the chart or from
// templates/.
type chartFiles struct{ dir string }

func (f chartFiles) Get(name string) string {
	clean := filepath.Clean(name)
	if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") || strings.HasPrefix(clean, "templates/") {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(f.dir, clean))
	if err != nil {
		return ""
	}
	return string(data)
}

func run() error {
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable, later wins)")
	name := flag.String("name", "tessera", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	asJSON := flag.Bool("json", false, "print the parsed documents as a JSON array")
	flag.Parse()
	if flag.NArg() != 1 {
		return errors.New("usage: render [-f values.yaml]... [--name R] [--namespace N] [--json] CHART_DIR")
	}
	chartDir := flag.Arg(0)

	meta, err := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	chartName, _ := meta["name"].(string)
	if chartName == "" {
		return errors.New("Chart.yaml has no name")
	}
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		override, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		values = coalesce(values, override)
	}

	r := &renderer{}
	r.root = template.New("chart").Option("missingkey=zero").Funcs(r.funcs())
	entries, err := os.ReadDir(filepath.Join(chartDir, "templates"))
	if err != nil {
		return err
	}
	var rendered []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "NOTES.txt" {
			continue
		}
		text, err := os.ReadFile(filepath.Join(chartDir, "templates", e.Name()))
		if err != nil {
			return err
		}
		tname := chartName + "/templates/" + e.Name()
		if _, err := r.root.New(tname).Parse(string(text)); err != nil {
			return err
		}
		if !strings.HasPrefix(e.Name(), "_") {
			rendered = append(rendered, tname)
		}
	}
	sort.Strings(rendered)

	top := map[string]interface{}{
		"Values": values,
		"Chart":  chartObject(meta),
		"Files":  chartFiles{dir: chartDir},
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{
				"Version": "v1.27.1", "Major": "1", "Minor": "27", "GitVersion": "v1.27.1",
			},
			"APIVersions": apiVersions{"v1", "apps/v1", "batch/v1", "policy/v1",
				"rbac.authorization.k8s.io/v1"},
		},
	}
	var out strings.Builder
	var docs []document
	for _, tname := range rendered {
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{
			"Name": tname, "BasePath": chartName + "/templates",
		}
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, tname, data); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range strings.Split(text, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname, strings.Trim(doc, "\n"))
			var obj interface{}
			if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
				return fmt.Errorf("%s: rendered YAML does not parse: %w\n%s", tname, err, doc)
			}
			if obj != nil {
				docs = append(docs, document{Source: tname, Object: obj})
			}
		}
	}
	if *asJSON {
		data, err := json.MarshalIndent(docs, "", " ")
		if err != nil {
			return err
		}
		os.Stdout.Write(data)
		os.Stdout.Write([]byte("\n"))
		return nil
	}
	fmt.Print(out.String())
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}
