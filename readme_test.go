package digelao_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

// readmes are the documents whose Go blocks are compiled and whose names are checked.
var readmes = []string{"README.md", "README.zh-CN.md"}

// TestDocs checks that the documentation promises only what exists: every Go block of the READMEs
// compiles, and every name the READMEs and the CHANGELOG's unreleased section write in backticks
// exists in the module.
//
// The blocks are written as packages of one module that requires this one, and the go command
// lists that module once, with the module's public packages and the export data of everything
// they import (go list -export). It compiles with this test binary's flags (-race), so that it
// finds the standard library and the dependencies in the build cache, compiled for the tests.
func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the README blocks")
	}
	d := loadDocs(t)
	t.Run("GoBlocksCompile", d.checkBlocksCompile)
	t.Run("NamesExist", func(t *testing.T) {
		for _, name := range readmes {
			text, err := os.ReadFile(name)
			require.NoError(t, err)
			for _, p := range d.problems(parseDoc(name, string(text), 1)) {
				t.Error(p)
			}
		}
		text, err := os.ReadFile("CHANGELOG.md")
		require.NoError(t, err)
		unreleased, line := changelogUnreleased(string(text))
		require.NotEmpty(t, unreleased, "an Unreleased section")
		for _, p := range d.problems(parseDoc("CHANGELOG.md", unreleased, line)) {
			t.Error(p)
		}
	})
	t.Run("NamesCheckFindsWhatIsMissing", func(t *testing.T) {
		doc := parseDoc("missing.md", "# Names\n\n"+
			"```go\n// given: c *digelao.Client\n_ = c\nrs, err := digelao.NewRecordSync(c, nil)\n_, _ = rs, err\n```\n\n"+
			"Real: `c.Tasks.All`, `c.Records.All(ctx, nil)`, `rs.Push`, `digelao.WithSyncStore`, `SyncStats.Pushed`,\n"+
			"`redisstore.New`, `*digelao.APIError`, `Tasks.ImportInfo(ctx, taskID)`, `Monday`, `*XListOptions`,\n"+
			"`Sample*Push`, `http.Handler`, `TestDocs`; not names: `--json`, `api_key`, `digelao sync --out a.jsonl`,\n"+
			"`DIGELAO_USERNAME`, `gin.WrapH(h)`, `Retry-After`, `Allow: POST`, `\"2006-01-02\"`.\n\n"+
			"Missing: `c.Tasks.Nope`, `rs.Nope`, `digelao.WithNope`, `SyncStats.Nope`, `NopeAtAll`,\n"+
			"`redisstore.Nope(rdb)`, `Tasks.Nope`, `*XNope`, `Nope*Push`, `http.Nope`, `TestNope`.\n\n"+
			"| before | now |\n|---|---|\n| `digelao.Gone` | `digelao.NewSecret` |\n| `Gone(x)` | `digelao.StillGone` |\n\n"+
			"| service | methods |\n|---|---|\n| `c.Tasks` | `List`, `All`, `DownloadSegment` (`CallingHours`: `Monday`), `TaskPause` |\n\n"+
			"## Gin\n\nIn gin, `c` is gin's: `c.ShouldBind`.\n\n"+
			"### Removed\n\n- `digelao.GoneToo`\n", 1)
		got := d.problems(doc)
		want := []string{"c.Tasks.Nope", "rs.Nope", "digelao.WithNope", "SyncStats.Nope", "NopeAtAll",
			"redisstore.Nope", "Tasks.Nope", "XNope", "Nope*Push", "http.Nope", "TestNope", "digelao.StillGone", "DownloadSegment"}
		require.Len(t, got, len(want), "%s", strings.Join(got, "\n"))
		for i, name := range want {
			assert.Contains(t, got[i], "`"+name+"`")
		}
		assert.Contains(t, got[0], "missing.md:15:")
		assert.Contains(t, got[5], "missing.md:16:")
	})
}

// TestDocsNamesOfVariablesOutsideTheirSection: a variable (c, rs, req) is known beyond the section
// whose block declares it — in its subsections, and in a section with no block of its own that
// names it (the README's contract table writes `rs.Quarantined(ctx)`, its options `c.Login(ctx)`)
// — so that a rename is caught there too; a section about another library keeps its `c` as that
// library's.
func TestDocsNamesOfVariablesOutsideTheirSection(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the module's packages")
	}
	d := loadDocs(t)
	doc := parseDoc("sections.md", "# Names\n\n"+
		"## Sync\n\n"+
		"```go\n// given: c *digelao.Client\nrs, err := digelao.NewRecordSync(c, nil)\n_, _ = rs, err\n```\n\n"+
		"`rs.Stats()` and `c.Tasks.All` are checked here.\n\n"+
		"### Contract\n\n"+
		"| when | how you are told |\n|---|---|\n| a record is refused | `rs.Nope(ctx)` |\n\n"+
		"## Options\n\n"+
		"`c.Tasks.Nope`, `c.Nope(ctx)` and `c.Login(ctx)`.\n\n"+
		"## Gin and echo\n\n"+
		"Mount it with `gin.WrapH(h)`; no `c.ShouldBind` before it.\n\n"+
		"## Blocks of their own\n\n"+
		"```go\nc := 5\n_ = c\n```\n\n"+
		"Here `c.Nope2` is an int's, not the client's.\n", 1)
	got := strings.Join(d.problems(doc), "\n")
	for _, name := range []string{"rs.Nope", "c.Tasks.Nope", "c.Nope", "c.Nope2"} {
		assert.Contains(t, got, "`"+name+"`", "not reported")
	}
	assert.Equal(t, 4, strings.Count(got, "\n")+1, "nothing else:\n%s", got)
	assert.Contains(t, got, "c has no Nope2", "the section's own c, an int")
}

// TestWrapBlockKeepsLines checks the line arithmetic by which a block's compile errors are
// reported at their README line, for each kind of block.
func TestWrapBlockKeepsLines(t *testing.T) {
	for _, code := range []string{
		"// given: c *digelao.Client; ctx context.Context\n// given: n int\n_ = c\nMARK",
		"x := 1\n\nMARK",
		"// given: t *testing.T\nfunc TestX(t *testing.T) {\n\tMARK\n}",
		"type T struct{}\n\nMARK",
		"// given: x int\npackage main\n\nMARK",
	} {
		mark := func(l string) bool { return strings.Contains(l, "MARK") }
		want := slices.IndexFunc(strings.Split(code, "\n"), mark) // from 0, as the block's lines
		src, shift := wrapBlock(code)
		got := slices.IndexFunc(strings.Split(src, "\n"), mark) + 1 - shift // the file's lines are from 1
		assert.Equal(t, want, got, "%q", code)
	}
}

// TestArchitectureNamesEveryFile keeps the map in the README's Architecture section true: it names
// every source file of the root package and every directory that holds Go code, and each file and
// directory it names exists.
func TestArchitectureNamesEveryFile(t *testing.T) {
	text, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(text), "\n## Architecture\n")
	require.True(t, ok, "an Architecture section")
	_, block, ok := strings.Cut(section, "```\n")
	require.True(t, ok, "a map in the Architecture section")
	block, _, _ = strings.Cut(block, "```")
	named := map[string]bool{}
	for _, word := range strings.Fields(block)[1:] { // the first is the module's own directory
		if strings.HasSuffix(word, ".go") || strings.HasSuffix(word, "/") {
			named[word] = true
		}
	}
	var have []string
	require.NoError(t, filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go"):
			return nil
		case filepath.Dir(path) == ".":
			if !strings.HasSuffix(path, "_test.go") {
				have = append(have, path)
			}
		case !slices.Contains(have, filepath.ToSlash(filepath.Dir(path))+"/"):
			have = append(have, filepath.ToSlash(filepath.Dir(path))+"/")
		}
		return nil
	}))
	for _, name := range have {
		assert.True(t, named[name], "the Architecture map does not name %s", name)
	}
	for name := range named {
		_, err := os.Stat(name)
		assert.NoError(t, err, "the Architecture map names %s", name)
	}
}

// TestLicense checks that LICENSE is the Apache License 2.0 word for word, with the project's
// copyright line in its appendix, and that README.md says so.
func TestLicense(t *testing.T) {
	b, err := os.ReadFile("LICENSE")
	require.NoError(t, err)
	const line = "   Copyright 2026 The digelao authors\n"
	require.Equal(t, 1, bytes.Count(b, []byte(line)), "the copyright line")
	sum := sha256.Sum256(bytes.Replace(b, []byte(line), []byte("   Copyright [yyyy] [name of copyright owner]\n"), 1))
	assert.Equal(t, "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30", hex.EncodeToString(sum[:]),
		"LICENSE is not https://www.apache.org/licenses/LICENSE-2.0.txt")
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "\n## License\n\nApache License 2.0: see [LICENSE](LICENSE).")
}

// TestChineseReadmeUsesFullWidthPunctuation: in Chinese sentences README.zh-CN.md writes ，：；（）
// as Chinese technical writing does, never ASCII , : ; ( ) next to a Chinese character or
// full-width punctuation (one space between allowed). Code blocks, code spans, calls and man pages
// (flock(2)) and link targets keep their own.
func TestChineseReadmeUsesFullWidthPunctuation(t *testing.T) {
	text, err := os.ReadFile("README.zh-CN.md")
	require.NoError(t, err)
	for _, p := range asciiPunctuationInChinese(string(text)) {
		t.Error("README.zh-CN.md:" + p)
	}
	got := asciiPunctuationInChinese("用法: `a, b` 或 [文档](https://x.cn/a,b;c)\n" +
		"```\n中文, 代码\n```\n1,000 条; (v1) 调用 flock(2)、f(x)\n调用 `Run()`, 见 (`go test`)\n")
	assert.Equal(t, []string{`1: ':' in "用法: x 或 [文"`, `5: ';' in "1,000 条; (v1) 调"`,
		`5: ')' in "0 条; (v1) 调用 x、x"`, `6: ',' in "调用 x, 见 (x)"`, `6: '(' in "调用 x, 见 (x)"`}, got)
}

var (
	codeRE       = regexp.MustCompile("``[^`]*``|`[^`]*`|\\w+\\(\\w*\\)") // and flock(2), f(x)
	linkTargetRE = regexp.MustCompile(`\]\([^)]*\)`)
	// fullWidth is CJK and full-width punctuation: 、。「」《》 and ，：；（）！？.
	fullWidth = &unicode.RangeTable{R16: []unicode.Range16{{Lo: 0x3000, Hi: 0x303f, Stride: 1}, {Lo: 0xff00, Hi: 0xffef, Stride: 1}}}
)

// asciiPunctuationInChinese returns each ASCII , : ; ( ) of Markdown text next to a Chinese
// character or full-width punctuation, one space between allowed, outside code blocks, code spans,
// calls and link targets, as "line: what in excerpt".
func asciiPunctuationInChinese(text string) []string {
	var found []string
	inBlock := false
	for n, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			continue
		}
		prose := []rune(linkTargetRE.ReplaceAllString(codeRE.ReplaceAllString(line, "x"), "]"))
		for i, r := range prose {
			if strings.ContainsRune(",:;()", r) && (chineseBeside(prose, i, -1) || chineseBeside(prose, i, 1)) {
				excerpt := string(prose[max(i-8, 0):min(i+8, len(prose))])
				found = append(found, fmt.Sprintf("%d: %q in %q", n+1, r, excerpt))
			}
		}
	}
	return found
}

// chineseBeside reports whether the rune next to s[i] on side dir (-1 or 1), past one space, is a
// Chinese character or full-width punctuation.
func chineseBeside(s []rune, i, dir int) bool {
	j := i + dir
	if j >= 0 && j < len(s) && s[j] == ' ' {
		j += dir
	}
	return j >= 0 && j < len(s) && unicode.In(s[j], unicode.Han, fullWidth)
}

// docs is the READMEs' Go blocks and the module's public packages, listed by the go command.
type docs struct {
	blocks   []docBlock
	modPkgs  []string                  // the import paths of the module's public packages
	listed   map[string]*listedPackage // by import path: the blocks, the module's packages and all they import
	byName   map[string][]string       // package name → import paths, over listed
	fset     *token.FileSet
	importer types.Importer
	// names are the exported names the module declares: package-level, and the fields and methods
	// of its types; members are the fields and methods among them. imported are those of the
	// packages the module imports.
	names, imported, pkgLevel map[string]bool
	members                   map[string][]types.Object
	tests                     map[string]bool // the test functions of the module's test files
}

type docBlock struct {
	goBlock
	readme string
	pkg    string // the import path of its package in the listed module
	shift  int    // the README line of the file's line n is line + n - shift
}

type listedPackage struct {
	ImportPath, Name, Export string
	Imports                  []string
	Error                    *struct{ Err string }
}

func loadDocs(t *testing.T) *docs {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	modLine := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(mod)
	require.NotNil(t, modLine, "go.mod names the module")
	dir := t.TempDir()
	requires := string(mod[bytes.Index(mod, []byte("require")):])
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), fmt.Appendf(nil,
		"module readmecheck\n\ngo 1.25\n\nrequire %[1]s v0.0.0\n\nreplace %[1]s => %[2]s\n\n%[3]s",
		modLine[1], root, requires), 0o600))
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o600))

	d := &docs{fset: token.NewFileSet(), listed: map[string]*listedPackage{}, byName: map[string][]string{}}
	for _, readme := range readmes {
		text, err := os.ReadFile(readme)
		require.NoError(t, err)
		for _, b := range goBlocks(string(text)) {
			pkg := fmt.Sprintf("b%03d", len(d.blocks))
			src, shift := wrapBlock(b.code)
			d.blocks = append(d.blocks, docBlock{goBlock: b, readme: readme, pkg: "readmecheck/" + pkg, shift: shift})
			require.NoError(t, os.MkdirAll(filepath.Join(dir, pkg), 0o750))
			require.NoError(t, os.WriteFile(filepath.Join(dir, pkg, "block.go"), []byte(src), 0o600))
		}
	}
	require.NotEmpty(t, d.blocks, "no Go blocks found")
	modPath := string(modLine[1])
	d.modPkgs, d.tests = walkModule(t, root, modPath)

	args := []string{"list", "-e", "-export", "-deps", "-json=ImportPath,Name,Export,Imports,Error"}
	if testkit.RaceBuild() { // the test build's packages, in the cache
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(append(args, "./..."), d.modPkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p listedPackage
		require.NoError(t, dec.Decode(&p))
		d.listed[p.ImportPath] = &p
		if !strings.HasPrefix(p.ImportPath, "readmecheck/") {
			d.byName[p.Name] = append(d.byName[p.Name], p.ImportPath)
		}
	}
	d.importer = importer.ForCompiler(d.fset, "gc", func(path string) (io.ReadCloser, error) {
		if p := d.listed[path]; p != nil && p.Export != "" {
			return os.Open(p.Export)
		}
		return nil, fmt.Errorf("no export data for %s", path)
	})
	d.names, d.imported, d.pkgLevel = map[string]bool{}, map[string]bool{}, map[string]bool{}
	d.members = map[string][]types.Object{}
	imported := map[string]bool{}
	for _, path := range d.modPkgs {
		pkg, err := d.importer.Import(path)
		require.NoError(t, err)
		d.declare(pkg, d.names, d.members)
		for _, name := range pkg.Scope().Names() {
			d.pkgLevel[name] = token.IsExported(name)
		}
		for _, imp := range d.listed[path].Imports {
			imported[imp] = imp != "unsafe" && imp != modPath && !strings.HasPrefix(imp, modPath+"/")
		}
	}
	for path, foreign := range imported {
		if foreign {
			pkg, err := d.importer.Import(path)
			require.NoError(t, err)
			d.declare(pkg, d.imported, nil)
		}
	}
	return d
}

// walkModule returns the import paths of the module's packages a user can import (not internal,
// not commands, not under testdata or in a nested module) and the tests, benchmarks, fuzz tests and
// examples its test files declare (TestRecordSyncSimulation: a name a README may give).
func walkModule(t *testing.T, root, modPath string) (pkgs []string, tests map[string]bool) {
	t.Helper()
	tests = map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := e.Name()
		if rel != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); rel != "." && err == nil {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		var noGo *build.NoGoError
		switch {
		case errors.As(err, &noGo):
			return nil
		case err != nil:
			return err
		}
		slashed := filepath.ToSlash(rel)
		if p.Name != "main" && slashed != "internal" && !strings.HasPrefix(slashed, "internal/") && !strings.Contains(slashed, "/internal") {
			pkgs = append(pkgs, strings.TrimSuffix(modPath+"/"+slashed, "/."))
		}
		for _, file := range slices.Concat(p.TestGoFiles, p.XTestGoFiles) {
			f, err := parser.ParseFile(fset, filepath.Join(path, file), nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && testFuncRE.MatchString(fn.Name.Name) {
					tests[fn.Name.Name] = true
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, pkgs, modPath)
	return pkgs, tests
}

var testFuncRE = regexp.MustCompile(`^(Test|Benchmark|Fuzz|Example)`)

// checkBlocksCompile reports the compiler's errors of each block at its line in the README.
func (d *docs) checkBlocksCompile(t *testing.T) {
	fileLine := regexp.MustCompile(`(?m)^(?:\./)?(b\d{3})/block\.go:(\d+)`)
	for _, b := range d.blocks {
		p := d.listed[b.pkg]
		require.NotNil(t, p, "go list did not list %s", b.pkg)
		if p.Error == nil {
			continue
		}
		msg := fileLine.ReplaceAllStringFunc(p.Error.Err, func(at string) string {
			n, _ := strconv.Atoi(fileLine.FindStringSubmatch(at)[2])
			return fmt.Sprintf("%s:%d", b.readme, b.line+n-b.shift)
		})
		t.Errorf("the Go block at %s:%d does not compile:\n%s", b.readme, b.line, msg)
	}
}

// declare adds the exported names pkg declares to names, and its types' fields and methods to
// members too when members is not nil.
func (d *docs) declare(pkg *types.Package, names map[string]bool, members map[string][]types.Object) {
	for _, name := range pkg.Scope().Names() {
		obj := pkg.Scope().Lookup(name)
		if !obj.Exported() {
			continue
		}
		names[name] = true
		tn, ok := obj.(*types.TypeName)
		if !ok {
			continue
		}
		var fields []types.Object
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for f := range st.Fields() {
				fields = append(fields, f)
			}
		}
		typ := tn.Type()
		if !types.IsInterface(typ) {
			typ = types.NewPointer(typ)
		}
		for m := range types.NewMethodSet(typ).Methods() {
			fields = append(fields, m.Obj())
		}
		for _, m := range fields {
			if m.Exported() {
				names[m.Name()] = true
				if members != nil {
					members[m.Name()] = append(members[m.Name()], m)
				}
			}
		}
	}
}

// markdown is a Markdown document's headings, Go blocks and code spans.
type markdown struct {
	name     string
	headings []heading
	blocks   []goBlock
	spans    []codeSpan
}

type heading struct {
	line, level int
	words       []string // the heading's words, in lower case
}

type codeSpan struct {
	line     int
	text     string
	gone     bool // names what no longer exists: in a table's "before" column, or under "Removed"
	row, col int  // in a table: the row (from 1, unique in the document) and the column
}

var headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)

// parseDoc reads the Markdown text of file name whose first line is line first.
func parseDoc(name, text string, first int) markdown {
	doc := markdown{name: name}
	for _, b := range goBlocks(text) {
		b.line += first - 1
		doc.blocks = append(doc.blocks, b)
	}
	lines := strings.Split(text, "\n")
	var para []string // the lines of the paragraph being read
	paraLine := 0
	removed := 0    // the level of the "Removed" heading whose section this is, or 0
	before := false // the table being read has a "before" column first
	flush := func() {
		doc.spans = append(doc.spans, spansOf(strings.Join(para, "\n"), paraLine, removed > 0)...)
		para = nil
	}
	for i := 0; i < len(lines); i++ {
		line, n := lines[i], first+i
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			flush()
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
			}
		case headingRE.MatchString(line):
			flush()
			m := headingRE.FindStringSubmatch(line)
			level := len(m[1])
			doc.headings = append(doc.headings, heading{line: n, level: level, words: strings.FieldsFunc(strings.ToLower(m[2]),
				func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })})
			if removed > 0 && level <= removed {
				removed = 0
			}
			if strings.EqualFold(strings.TrimSpace(m[2]), "Removed") {
				removed = level
			}
		case strings.HasPrefix(trimmed, "|"):
			flush()
			cells := splitRow(trimmed)
			if i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "|") {
				before = len(cells) > 0 && strings.EqualFold(strings.TrimSpace(cells[0]), "before")
			}
			for j, cell := range cells {
				for _, s := range spansOf(cell, n, removed > 0 || before && j == 0) {
					s.row, s.col = n, j
					doc.spans = append(doc.spans, s)
				}
			}
		case trimmed == "" || strings.HasPrefix(trimmed, "<!--"):
			flush()
		default:
			if para == nil {
				paraLine = n
			}
			para = append(para, line)
		}
	}
	flush()
	return doc
}

// splitRow returns the cells of a table row, split at the pipes that are not escaped.
func splitRow(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	start := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			cells = append(cells, row[start:i])
			start = i + 1
		}
	}
	return append(cells, row[start:])
}

// spansOf returns the code spans of Markdown text that starts at line.
func spansOf(text string, line int, gone bool) []codeSpan {
	var spans []codeSpan
	for i := 0; i < len(text); {
		if text[i] != '`' {
			i++
			continue
		}
		n := 1
		for i+n < len(text) && text[i+n] == '`' {
			n++
		}
		fence := text[i : i+n]
		end := strings.Index(text[i+n:], fence)
		if end < 0 {
			break
		}
		body := text[i+n : i+n+end]
		spans = append(spans, codeSpan{line: line + strings.Count(text[:i], "\n"),
			text: strings.ReplaceAll(strings.TrimSpace(body), `\|`, "|"), gone: gone})
		i += 2*n + end
	}
	return spans
}

var (
	quotedRE   = regexp.MustCompile(`"[^"]*"|'[^']*'`)
	chainRE    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)
	wildcardRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*[A-Za-z0-9_]+`) // Sample*Push
	allCapsRE  = regexp.MustCompile(`^[A-Z0-9_]+$`)                           // POST, SN, DIGELAO_USERNAME: no Go name
	xNameRE    = regexp.MustCompile(`^X[A-Z]`)                                // XRequest: any name ending in Request
)

// problems returns what doc names in backticks that the module does not declare, one line each.
//
// A code span is read for the Go names in it: a dotted name such as digelao.WithSyncStore,
// c.Tasks.All or SyncStats.Pushed, and a lone name that is exported (NewRecordSync). Its first part
// is, in this order: a variable of the Go blocks (c, rs, srv: the types the blocks give it) — those
// of the span's section and its subsections, else of its parent sections in turn, else of any block
// of the document; in a section whose heading names another library that the document writes as a
// package (gin in `gin.WrapH`), only those of the section itself — a package (the module's, or one it imports: http.Handler), a name the module
// declares (SyncStats), or a field or method of the module's types (Tasks, as in Tasks.All); each
// further part is a field or method of what the part before it is. A lone name is one the module,
// or a package it imports, declares, or a test, benchmark, fuzz test or example of the module's
// test files (TestDocs); in a table row that starts with a name of something with
// fields or methods (| `c.Tasks` | `List` and `All` |), it is one of those, a package-level name,
// or a member of a type the row names (`CallingHours`: `Monday`). "X" before a capital stands for
// any word (*XRequest), and "*" inside a name for any letters (Sample*Push): some name must match.
//
// Not read: flags and paths (after "-", "/", "."), text in quotes, header and key names (before
// ":"), words in capitals (POST, DIGELAO_USERNAME), comments, and a lone lower-case word (api_key,
// sync). A dotted name whose first part is a lower-case word none of the above knows is another
// library's (gin.WrapH) and not read either. Nor is what no longer exists: the first column of a
// table headed "before", and a section headed "Removed".
func (d *docs) problems(doc markdown) []string {
	vars := d.blockVars(doc)
	foreign := d.foreign(doc, vars[-1])
	scopes := map[int]map[string][]types.Type{}
	scope := func(line int) map[string][]types.Type {
		i := d.section(doc, line)
		if _, ok := scopes[i]; !ok {
			scopes[i] = d.scope(doc, vars, foreign, i)
		}
		return scopes[i]
	}
	subjects, rowTypes := d.rows(doc, scope)
	var out []string
	for _, s := range doc.spans {
		if s.gone || strings.HasPrefix(s.text, "//") {
			continue
		}
		text := quotedRE.ReplaceAllString(strings.ReplaceAll(s.text, "…", " "), " ")
		end := 0 // where the last name read ended
		for _, m := range chainRE.FindAllStringIndex(text, -1) {
			if m[0] < end {
				continue
			}
			name := text[m[0]:m[1]]
			if w := wildcardRE.FindString(text[m[0]:]); w != "" && !allCapsRE.MatchString(name) {
				end = m[0] + len(w)
				if !d.matches("^" + strings.ReplaceAll(w, "*", `\w*`) + "$") {
					out = append(out, fmt.Sprintf("%s:%d: `%s` matches no name the module declares", doc.name, s.line, w))
				}
				continue
			}
			prev, next := byte(' '), byte(' ')
			if m[0] > 0 {
				prev = text[m[0]-1]
			}
			if m[1] < len(text) {
				next = text[m[1]]
			}
			if strings.IndexByte(`-/.\$%<@#:`, prev) >= 0 || strings.IndexByte("-/:=*<>@?", next) >= 0 { // flags, paths, URLs, DSNs
				continue
			}
			if subj, ok := subjects[s.row]; ok && s.col > 0 && token.IsExported(name) && !d.inRow(name, subj.things, rowTypes[s.row]) {
				out = append(out, fmt.Sprintf("%s:%d: `%s` is no member of `%s`", doc.name, s.line, name, subj.name))
				continue
			}
			if _, p := d.resolve(strings.Split(name, "."), scope(s.line)); p != "" {
				out = append(out, fmt.Sprintf("%s:%d: `%s` %s", doc.name, s.line, name, p))
			}
		}
	}
	return out
}

type subject struct {
	name   string
	things []any
}

// rows returns the subjects of doc's table rows — a first cell whose one code span names
// something with fields or methods — and the module's types each row names by a lone name.
func (d *docs) rows(doc markdown, scope func(int) map[string][]types.Type) (map[int]subject, map[int][]any) {
	first := map[int][]string{}
	named := map[int][]any{}
	for _, s := range doc.spans {
		if s.row == 0 || s.gone {
			continue
		}
		if s.col == 0 {
			first[s.row] = append(first[s.row], s.text)
		}
		if d.pkgLevel[s.text] {
			things, _ := d.resolve([]string{s.text}, nil)
			named[s.row] = append(named[s.row], things...)
		}
	}
	subjects := map[int]subject{}
	for row, spans := range first {
		name := chainRE.FindString(spans[0])
		if len(spans) != 1 || name != spans[0] {
			continue
		}
		things, p := d.resolve(strings.Split(name, "."), scope(row))
		if p == "" && slices.ContainsFunc(things, hasMembers) {
			subjects[row] = subject{name, things}
		}
	}
	return subjects, named
}

// inRow reports whether the lone name belongs to a table row about subject: a member of the
// subject, a package-level name of the module, or a member of a type the row names.
func (d *docs) inRow(name string, subject, named []any) bool {
	if d.pkgLevel[name] {
		return true
	}
	for _, th := range append(slices.Clone(subject), named...) {
		if member(th, name) != nil {
			return true
		}
	}
	return false
}

// hasMembers reports whether a variable, field or type has fields or methods.
func hasMembers(th any) bool {
	var typ types.Type
	switch x := th.(type) {
	case *types.Var:
		typ = x.Type()
	case *types.TypeName:
		typ = x.Type()
	case types.Type:
		typ = x
	default:
		return false
	}
	if p, ok := typ.Underlying().(*types.Pointer); ok {
		typ = p.Elem()
	}
	_, isStruct := typ.Underlying().(*types.Struct)
	return isStruct || types.NewMethodSet(types.NewPointer(typ)).Len() > 0
}

// resolve returns what the dotted name parts names — packages, objects, types — or what is wrong
// with it: nothing and "" for a name that is not the module's (another library's); see problems.
func (d *docs) resolve(parts []string, vars map[string][]types.Type) (things []any, problem string) {
	first := parts[0]
	exported := token.IsExported(first)
	if allCapsRE.MatchString(first) || len(parts) == 1 && !exported {
		return nil, ""
	}
	for _, typ := range vars[first] {
		things = append(things, typ)
	}
	if len(things) == 0 && len(parts) > 1 {
		for _, path := range d.byName[first] {
			if pkg, err := d.importer.Import(path); err == nil {
				things = append(things, pkg)
			}
		}
	}
	if len(things) == 0 && exported {
		for _, path := range d.modPkgs {
			if pkg, _ := d.importer.Import(path); pkg.Scope().Lookup(first) != nil {
				things = append(things, pkg.Scope().Lookup(first))
			}
		}
		for _, m := range d.members[first] {
			things = append(things, m)
		}
	}
	if len(parts) == 1 {
		switch {
		case len(things) > 0 || d.imported[first]:
			return things, ""
		case testFuncRE.MatchString(first):
			if d.tests[first] {
				return nil, ""
			}
			return nil, "is no test, benchmark, fuzz test or example of the module"
		case xNameRE.MatchString(first):
			if d.matches(`^\w+` + first[1:] + "$") {
				return nil, ""
			}
			return nil, "matches no name the module declares"
		}
		return nil, "is declared nowhere in the module or the packages it imports"
	}
	if len(things) == 0 {
		if exported {
			return nil, "is declared nowhere in the module"
		}
		return nil, "" // another library's variable or package
	}
	for i, part := range parts[1:] {
		var found []any
		for _, th := range things {
			if obj := member(th, part); obj != nil {
				found = append(found, obj)
			}
		}
		if len(found) == 0 {
			return nil, fmt.Sprintf("names nothing: %s has no %s", strings.Join(parts[:i+1], "."), part)
		}
		things = found
	}
	return things, ""
}

// member returns the exported member name of a package, an object or a type, or nil.
func member(of any, name string) types.Object {
	var typ types.Type
	switch x := of.(type) {
	case *types.Package:
		if obj := x.Scope().Lookup(name); obj != nil && obj.Exported() {
			return obj
		}
		return nil
	case *types.Func:
		if res := x.Signature().Results(); res.Len() > 0 {
			typ = res.At(0).Type()
		}
	case types.Object:
		typ = x.Type()
	case types.Type:
		typ = x
	}
	if typ == nil {
		return nil
	}
	obj, _, _ := types.LookupFieldOrMethod(typ, true, nil, name)
	if obj == nil || !obj.Exported() {
		return nil
	}
	return obj
}

// matches reports whether the pattern matches an exported name the module declares.
func (d *docs) matches(pattern string) bool {
	re := regexp.MustCompile(pattern)
	for name := range d.names {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// scope returns the variables a name in section i may use: see problems.
func (d *docs) scope(doc markdown, vars map[int]map[string][]types.Type, foreign map[string]bool, i int) map[string][]types.Type {
	if i >= 0 && slices.ContainsFunc(doc.headings[i].words, func(w string) bool { return foreign[w] }) {
		return vars[i] // about another library: a name no block of its own declares is that library's
	}
	chain := []int{i} // section i and its parents, innermost first
	for j := i - 1; j >= 0; j-- {
		if doc.headings[j].level < doc.headings[chain[len(chain)-1]].level {
			chain = append(chain, j)
		}
	}
	out := maps.Clone(vars[-1])
	if out == nil {
		out = map[string][]types.Type{}
	}
	for _, j := range slices.Backward(chain) {
		maps.Copy(out, vars[j])
	}
	return out
}

// foreign returns the names doc writes as another library's package: the first part of a dotted
// name before an exported one (gin in `gin.WrapH(h)`) that is no variable of its blocks (vars) and
// no package the module knows.
func (d *docs) foreign(doc markdown, vars map[string][]types.Type) map[string]bool {
	out := map[string]bool{}
	for _, s := range doc.spans {
		for _, name := range chainRE.FindAllString(s.text, -1) {
			parts := strings.Split(name, ".")
			if len(parts) > 1 && !token.IsExported(parts[0]) && token.IsExported(parts[1]) && vars[parts[0]] == nil &&
				d.byName[parts[0]] == nil {
				out[strings.ToLower(parts[0])] = true
			}
		}
	}
	return out
}

// section returns the index of the innermost heading above line, or -1.
func (d *docs) section(doc markdown, line int) int {
	at := -1
	for i, h := range doc.headings {
		if h.line <= line {
			at = i
		}
	}
	return at
}

// blockVars type-checks the Go blocks of doc and returns, for each section (by heading index),
// the variables its blocks and those of its subsections declare, and their types; under -1, the
// document's as a whole, those of every block.
func (d *docs) blockVars(doc markdown) map[int]map[string][]types.Type {
	vars := map[int]map[string][]types.Type{}
	for _, b := range doc.blocks {
		src, _ := wrapBlock(b.code)
		f, err := parser.ParseFile(d.fset, doc.name, src, parser.SkipObjectResolution)
		if err != nil {
			continue // reported by GoBlocksCompile
		}
		info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: d.importer, Error: func(error) {}}
		_, _ = conf.Check("readme", d.fset, []*ast.File{f}, info)
		for i := -1; i < len(doc.headings); i++ {
			if i >= 0 && !d.contains(doc, i, b.line) {
				continue
			}
			for _, obj := range info.Defs {
				if v, ok := obj.(*types.Var); ok && !v.IsField() && v.Name() != "_" {
					if vars[i] == nil {
						vars[i] = map[string][]types.Type{}
					}
					vars[i][v.Name()] = append(vars[i][v.Name()], v.Type())
				}
			}
		}
	}
	return vars
}

// contains reports whether line is in the section of heading i, subsections included.
func (d *docs) contains(doc markdown, i, line int) bool {
	h := doc.headings[i]
	if line < h.line {
		return false
	}
	for _, next := range doc.headings[i+1:] {
		if next.level <= h.level {
			return line < next.line
		}
	}
	return true
}

type goBlock struct {
	line int
	code string
}

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(text string) []goBlock {
	var blocks []goBlock
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		blocks = append(blocks, goBlock{line: start + 1, code: strings.Join(lines[start:i], "\n")})
	}
	return blocks
}

var (
	givenRE   = regexp.MustCompile(`^\s*// given: (.*)$`)
	commentRE = regexp.MustCompile(`(?m)(^|\s)//.*$`) // not "https://"
)

// imports maps the package names README blocks use to their paths.
var imports = map[string]string{
	"digelao": "github.com/digelao-go/digelao", "digelaotest": "github.com/digelao-go/digelao/digelaotest",
	"redisstore": "github.com/digelao-go/digelao/redisstore", "redis": "github.com/redis/go-redis/v9",
	"require": "github.com/stretchr/testify/require", "assert": "github.com/stretchr/testify/assert",
	"context": "context", "errors": "errors", "fmt": "fmt", "io": "io", "os": "os", "path": "path",
	"filepath": "path/filepath", "strings": "strings", "time": "time", "log": "log", "slog": "log/slog",
	"http": "net/http", "httptest": "net/http/httptest", "json": "encoding/json", "rand": "crypto/rand",
	"signal": "os/signal", "syscall": "syscall", "testing": "testing", "sync": "sync", "bytes": "bytes",
	"sql": "database/sql", "sqlstore": "github.com/digelao-go/digelao/sqlstore",
}

// wrapBlock turns a block into a Go file; see TestDocs. A block is one of:
//
//   - a whole file, starting with "package";
//   - declarations, starting with "func", "type" or "var";
//   - statements, compiled as the body of a function that returns an error.
//
// A block may begin with comments naming what it uses without declaring:
//
//	// given: c *digelao.Client; ctx context.Context
//
// Imports are added for the packages a block names. Line n of the file is line n-shift of the
// block (from 0).
func wrapBlock(code string) (src string, shift int) {
	var given []string
	lines := strings.Split(code, "\n")
	skipped := 0
	for len(lines) > 0 {
		m := givenRE.FindStringSubmatch(lines[0])
		if m == nil {
			break
		}
		for decl := range strings.SplitSeq(m[1], ";") {
			if decl = strings.TrimSpace(decl); decl != "" {
				given = append(given, decl)
			}
		}
		lines, skipped = lines[1:], skipped+1
	}
	body := strings.Join(lines, "\n")
	if strings.HasPrefix(strings.TrimSpace(body), "package ") {
		return body, 1 - skipped
	}
	var used []string
	code = commentRE.ReplaceAllString(body, "") + strings.Join(given, "\n")
	for name, path := range imports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(code) {
			used = append(used, fmt.Sprintf("%q", path))
		}
	}
	slices.Sort(used)
	var f strings.Builder
	fmt.Fprintf(&f, "package readme\n\nimport (\n%s\n)\n\n", strings.Join(used, "\n"))
	for _, decl := range given {
		fmt.Fprintf(&f, "var %s\n", decl)
	}
	first := strings.TrimSpace(body)
	if strings.HasPrefix(first, "func ") || strings.HasPrefix(first, "type ") || strings.HasPrefix(first, "var ") {
		f.WriteString("\n")
		shift = strings.Count(f.String(), "\n") + 1 - skipped
		fmt.Fprintf(&f, "%s\n", body)
		return f.String(), shift
	}
	f.WriteString("\nfunc _() error {\n")
	shift = strings.Count(f.String(), "\n") + 1 - skipped
	fmt.Fprintf(&f, "%s\n\treturn nil\n}\n", body)
	return f.String(), shift
}
