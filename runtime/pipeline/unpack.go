package pipeline

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"
)

// maxPipelineFile bounds what an archive may unpack to.
const maxPipelineFile = 64 << 20

// LoadFile reads a pipeline file as the CLI and the KFP API server take
// one: YAML or JSON (a KFP spec or a native DAG), or a pipeline package
// (.zip, .tar.gz) holding one. A name whose extension is another format
// is refused before its content is read; problems inside an archive name
// the member they are in.
func LoadFile(name string, data []byte) (*Plan, error) {
	ext := strings.ToLower(path.Ext(name))
	if strings.HasSuffix(strings.ToLower(name), ".tar.gz") {
		ext = ".tar.gz"
	}
	switch ext {
	case ".yaml", ".yml", ".json", "":
	case ".zip":
		if !bytes.HasPrefix(data, []byte("PK")) {
			return nil, ErrorList{{Err: errors.New("the file is named .zip but is not a zip archive")}}
		}
	case ".tar.gz", ".tgz", ".gz":
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			return nil, ErrorList{{Err: fmt.Errorf("the file is named %s but is not a gzip archive", ext)}}
		}
	case ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".txt", ".py", ".ipynb", ".tar", ".exe", ".bin":
		return nil, ErrorList{{Err: fmt.Errorf("a pipeline file is .yaml, .yml or .json (or a .zip or .tar.gz pipeline package), not %s", ext)}}
	}
	inner, member, err := unpackNamed(data)
	if err != nil {
		return nil, ErrorList{{Err: err}}
	}
	plan, err := LoadAny(inner)
	if err != nil && member != "" {
		l := AsErrorList(err)
		for _, fe := range l {
			fe.Err = fmt.Errorf("in %s of the archive: %w", member, fe.Err)
		}
		return nil, l
	}
	return plan, err
}

// unpack returns the pipeline spec in data: data itself when it is text,
// the one pipeline file of a KFP pipeline package (.zip, .tar.gz, as the
// KFP SDK and API server accept), or an error that says what the data is
// instead.
func unpack(data []byte) ([]byte, error) {
	b, _, err := unpackNamed(data)
	return b, err
}

// unpackNamed is unpack, naming the archive member it read ("" for text).
func unpackNamed(data []byte) ([]byte, string, error) {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return unzip(data)
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return ungzip(data)
	}
	for _, f := range []struct{ magic, name string }{
		{"\x89PNG", "a PNG image"}, {"\xff\xd8\xff", "a JPEG image"}, {"GIF8", "a GIF image"},
		{"%PDF", "a PDF document"}, {"\x7fELF", "an executable (ELF)"}, {"BZh", "a bzip2 archive"},
		{"\xfd7zXZ", "an xz archive"}, {"7z\xbc\xaf", "a 7-Zip archive"},
	} {
		if bytes.HasPrefix(data, []byte(f.magic)) {
			return nil, "", fmt.Errorf("the file is %s, not a pipeline spec (YAML or JSON compiled by the KFP SDK, or a .zip or .tar.gz holding one)", f.name)
		}
	}
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		return nil, "", errors.New("the file is binary, not a pipeline spec (YAML or JSON compiled by the KFP SDK, or a .zip or .tar.gz holding one)")
	}
	return data, "", nil
}

// pipelineFileName reports a file an archive may hold the pipeline in.
func pipelineFileName(name string) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, ".") || strings.HasPrefix(name, "__MACOSX/") {
		return false
	}
	switch strings.ToLower(path.Ext(base)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func unzip(data []byte) ([]byte, string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, "", fmt.Errorf("the file is not a valid zip archive: %w", err)
	}
	var found []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() && pipelineFileName(f.Name) {
			found = append(found, f)
		}
	}
	if err := onePipelineFile(len(zr.File), names(found, func(f *zip.File) string { return f.Name })); err != nil {
		return nil, "", fmt.Errorf("zip archive: %w", err)
	}
	rc, err := found[0].Open()
	if err != nil {
		return nil, "", fmt.Errorf("zip archive: reading %s: %w", found[0].Name, err)
	}
	defer rc.Close()
	b, err := readPipelineFile(rc, "zip archive: "+found[0].Name)
	return b, found[0].Name, err
}

func ungzip(data []byte) ([]byte, string, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("the file is not a valid gzip archive: %w", err)
	}
	body, err := readPipelineFile(gz, "gzip archive")
	if err != nil {
		return nil, "", err
	}
	// A tar inside (.tar.gz) holds the pipeline file; plain gzip is the
	// file itself.
	if len(body) < 512 || !bytes.Equal(body[257:262], []byte("ustar")) {
		b, err := unpack(body)
		return b, "", err
	}
	tr := tar.NewReader(bytes.NewReader(body))
	var files []string
	var pick []byte
	member := ""
	total := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("the file is not a valid tar.gz archive: %w", err)
		}
		total++
		if h.Typeflag != tar.TypeReg || !pipelineFileName(h.Name) {
			continue
		}
		files = append(files, h.Name)
		if len(files) == 1 {
			member = h.Name
			if pick, err = readPipelineFile(tr, "tar.gz archive: "+h.Name); err != nil {
				return nil, "", err
			}
		}
	}
	if err := onePipelineFile(total, files); err != nil {
		return nil, "", fmt.Errorf("tar.gz archive: %w", err)
	}
	b, err := unpack(pick)
	return b, member, err
}

func onePipelineFile(entries int, files []string) error {
	switch {
	case entries == 0:
		return errors.New("the archive is empty; a pipeline package holds one pipeline file (.yaml, .yml or .json)")
	case len(files) == 0:
		return fmt.Errorf("the archive's %d entries include no pipeline file (.yaml, .yml or .json)", entries)
	case len(files) > 1:
		return fmt.Errorf("the archive holds %d pipeline files (%s); a pipeline package holds one", len(files), strings.Join(files, ", "))
	}
	return nil
}

func readPipelineFile(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPipelineFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > maxPipelineFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", what, maxPipelineFile>>20)
	}
	return b, nil
}

func names[T any](list []T, name func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = name(x)
	}
	return out
}
