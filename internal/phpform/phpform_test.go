package phpform

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

// cases are forms whose reading PHP gets subtly: each is checked against parse_str and $_POST.
var cases = []string{
	"", "&", "&&", "a", "a=", "=", "=x", "a=1&b=2", "a=1&a=2", "a=1&&b=2&", "&a=1",
	"a[]=1&a[]=2&a[]=3", "a[x]=1&a[y][z]=2&a[y][]=3", "a[x][]=1&a[x][]=2&a[x][y]=3",
	"a=1&a[]=2", "a[]=1&a=2", "a[x]=1&a=2&a[y]=3", "a[]=1&a[x]=2&a[]=3",
	"a[2]=x&a[]=y&a[1]=z&a[]=w", "a[-5]=x&a[]=y", "a[-1]=x&a[]=y", "-5=x&=y&a[]=z&[]=w",
	"a[05]=x&a[]=y&a[-0]=z&a[0]=w&a[+1]=v&a[ 1]=u&a[1 ]=t",
	"a[9223372036854775806]=x&a[]=y&a[]=z", "a[9223372036854775807]=x&a[]=y&a[b][]=z",
	"a[9223372036854775808]=x&a[]=y", "a[-9223372036854775808]=x&a[]=y", "a[-9223372036854775809]=x&a[]=y",
	"0=a&1=b", "1=a&0=b", "0=a&2=b", "0[]=a&1[x]=b", "a[0]=x&a[1]=y", "a[1]=x&a[0]=y",
	"a.b=1&a b=2&a+b.c=3&.a=4& a=5&++a=6&a..=7&%20a=8&a%2Eb=9",
	"a[b.c]=1&a[b c]=2&a.b[c.d]=3&a b[c d][e.f]=4",
	"a[=1&a[b=2&a[b.c d[e=3&a[b][c=4&a[][c=5&x[b]c=6&x[b]c[d]=7&y]=8&y[b]]=9&y[[b]]=10",
	"a[ ]=1&a[ ]=2&b[  ]=3&c[ x]=4&d[x ]=5&e[	]=6&f[ ][ ]=7",
	"[a]=1&[]=2&%5Ba%5D=3& [a]=4&a%5Bb%5D=5&a%5B%5D=6&a%5B%5D=7",
	"a=%zz&b=%4&c=%41%42&d=+&e=%E6%B5%8B%E8%AF%95&f=%FF&g=%&h=%%41&i=%4G&j=%4a%4A",
	"a%00b=1&c=d%00e&%00=2&f[x%00y]=3&g%3Dh=4&i=j=k",
	"a=%FF%FE&b=%E6%B5&c=%C0%AF&d=%ED%A0%80&e=%F4%90%80%80&f=x%80%80y&g=%E6%FF&h=%F0%9F%98&%FF=1",
	"a=%F0%9F%98%80&b=%C3%A9/%22%5C%3C%3E%26%27&c=%01%1F%7F",
	"sn=account%7Ca6505ba3&phone=15800000000&import_mark%5BtotalCount%5D=1&import_mark%5Bsuccess%5D=0",
	"a[b][c][d]=1&a[b][c][e]=2&a[b][x]=3&a[b][c]=4&a[b][c][]=5",
	"k" + strings.Repeat("[x]", MaxNesting) + "=deep&b=1",
	"k=1&k[a]=2&k" + strings.Repeat("[x]", MaxNesting+1) + "=deep&b=1&k[c]=3",
	"k" + strings.Repeat("[]", MaxNesting+1) + "=deep&b=1",
	"k" + strings.Repeat("[x]", MaxNesting) + "[y=deep",
	"k" + strings.Repeat("[x]", MaxNesting+1) + "[y=deep",
	strings.Repeat("v=1&", MaxInputVars+5),
	strings.Repeat("a[]=1&", MaxInputVars) + "b=2",
	strings.Repeat("a[]=1&", MaxInputVars+1) + "b=2",
	strings.Repeat("&", 10) + strings.Repeat("a[]=1&", MaxInputVars-10) + "b=2",
	"a=1\x00&b=2",
}

// TestParseStrMatchesPHP reads each case with ParseStr and with PHP's parse_str.
func TestParseStrMatchesPHP(t *testing.T) {
	php := startPHP(t)
	for _, in := range cases {
		got, more := ParseStr(in)
		checkPHP(t, in, got, more, php.parse(t, in))
	}
}

// TestParsePostMatchesPHP posts each case to PHP and reads it with ParsePost: $_POST differs from
// parse_str in the empty pieces it counts, where it checks max_input_vars, and NUL bytes.
func TestParsePostMatchesPHP(t *testing.T) {
	php := servePHP(t)
	for _, in := range cases {
		got, more := ParsePost(in)
		checkPHP(t, in, got, more, php.post(t, "application/x-www-form-urlencoded", in))
	}
}

// formTypes are Content-Types PHP reads as application/x-www-form-urlencoded: it matches the
// type lowercased, up to the first ';', ',' or ' ', and ignores a charset (without mbstring's
// encoding_translation, which is off by default).
var formTypes = []string{
	"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
	"Application/X-WWW-Form-URLEncoded;charset=GBK", "application/x-www-form-urlencoded, text/plain",
	"application/x-www-form-urlencoded charset=ISO-8859-1",
}

// FuzzPostMatchesPHP posts arbitrary forms to PHP's built-in server (one per fuzz worker) and
// requires the same array, bytes, key types and order, the same JSON, and the same word on
// max_input_vars as the SDK's reading:
//
//   - under one of formTypes, the form is the body, read with ParsePost: Post's split, registered
//     as PHP registers $_POST. Post's callers that refuse a form over a limit of their own instead
//     of keeping its first variables (PushHandler.MaxMembers) are outside this: ParsePost keeps
//     PHP's.
//   - when mp's high bit is set, each of the form's '&'-separated pieces "name=value" is a part of
//     a multipart/form-data body, its Content-Disposition "form-data; name=" and the name, its
//     data the value, both url-decoded; read with Parts, registered as digelaotest registers
//     them (the first MaxInputVars fields, files aside). The fuzz keeps to bodies framed as a
//     client frames them: a boundary in no name or value, no line break in a header; and a body
//     that Parts refuses (Go's textproto refuses a header with a NUL byte, say) is refused, not
//     read otherwise. Framing beyond that is where Go's mime/multipart, under Parts, and PHP's
//     rfc1867.c part ways (see TestPartsFramingDiffersFromPHP).
func FuzzPostMatchesPHP(f *testing.F) {
	for i, in := range cases {
		f.Add(in, uint8(i))
		f.Add(in, uint8(i)|0x80)
	}
	php := servePHP(f)
	f.Fuzz(func(t *testing.T, in string, mp uint8) {
		if mp&0x80 == 0 {
			got, more := ParsePost(in)
			checkPHP(t, in, got, more, php.post(t, formTypes[int(mp)%len(formTypes)], in))
			return
		}
		body, ok := multipartBody(in)
		if !ok {
			t.Skip("not framed as a client frames it")
		}
		got, more := &Array{}, false
		fields := 0
		for p, err := range Parts(strings.NewReader(body), fuzzBoundary) {
			if err != nil {
				t.Skip("refused, not read otherwise:", err)
			}
			if p.File {
				continue
			}
			if fields++; fields > MaxInputVars {
				more = true
				continue
			}
			got.Set(p.Name, string(p.Data))
		}
		checkPHP(t, body, got, more, php.post(t, "multipart/form-data; boundary="+fuzzBoundary, body))
	})
}

const fuzzBoundary = "phpform-7MA4YWxkTrZu0gW"

// multipartBody returns form as FuzzPostMatchesPHP posts it as multipart/form-data, and false when
// a name or value holds the boundary, or a name a line break or ends in white space (which Go's
// textproto trims off a header, and PHP keeps in a quote left open).
func multipartBody(form string) (string, bool) {
	var b strings.Builder
	for piece := range strings.SplitSeq(form, "&") {
		name, value, _ := strings.Cut(piece, "=")
		name, value = Decode(name), Decode(value)
		if strings.ContainsAny(name, "\r\n") || strings.TrimRight(name, cSpace) != name ||
			strings.Contains(name+"\n"+value, fuzzBoundary) {
			return "", false
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%s\r\n\r\n%s\r\n", fuzzBoundary, name, value)
	}
	fmt.Fprintf(&b, "--%s--\r\n", fuzzBoundary)
	return b.String(), true
}

func TestQueryAndPostStopAtN(t *testing.T) {
	vars, more := Query("&a=1&&b=2&c", 2)
	assert.Equal(t, []Var{{"a", "1"}, {"b", "2"}}, vars)
	assert.True(t, more)
	vars, more = Query("a=1&&b=2&", 2)
	assert.Len(t, vars, 2)
	assert.False(t, more, "empty pieces are not variables of a query")
	vars, more = Post("a=1&&b=2&", 2)
	assert.Equal(t, []Var{{"a", "1"}, {"", ""}}, vars, "an empty piece of a body is a variable")
	assert.True(t, more)
	vars, more = Post("a=1&&b=2&", 3)
	assert.Len(t, vars, 3)
	assert.False(t, more, "a final '&' is no variable")
}

func TestArrayAccessors(t *testing.T) {
	a, _ := ParseStr("b=1&a[]=x&a[]=y&c[k]=z")
	assert.Equal(t, 3, a.Len())
	var keys []string
	for k := range a.All() {
		keys = append(keys, k)
	}
	assert.Equal(t, []string{"b", "a", "c"}, keys, "PHP's order")
	v, ok := a.Get("a")
	require.True(t, ok)
	assert.True(t, v.(*Array).IsList())
	_, ok = a.Get("x")
	assert.False(t, ok)
	assert.False(t, a.IsList())
	b, err := a.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"b":"1","a":["x","y"],"c":{"k":"z"}}`, string(b))
}

// Set returns the arrays it made: what a form costs beyond its fields.
func TestSetCountsArrays(t *testing.T) {
	a := &Array{}
	for _, tt := range []struct {
		name   string
		arrays int
	}{
		{"x[a][b]", 2}, {"x[a][c]", 0}, {"x[a][b][]", 1}, {"x[]", 0}, {"y[][]", 2}, {"y[][]", 1},
		{"z", 0}, {"z[a]", 1}, {"[a]", 0}, {"a[b", 0}, {"w" + strings.Repeat("[]", MaxNesting+1), MaxNesting},
	} {
		assert.Equal(t, tt.arrays, a.Set(tt.name, "v"), tt.name)
	}
	_, kept := a.Get("w")
	assert.False(t, kept, "nested too deep: dropped, though its arrays were made")
}

func TestIntKey(t *testing.T) {
	for k, want := range map[string]bool{"0": true, "7": true, "-7": true, "10": true, "": false, "-": false,
		"-0": false, "00": false, "07": false, "+7": false, " 7": false, "7 ": false, "1e3": false,
		"9223372036854775807": true, "9223372036854775808": false, "-9223372036854775808": true, "-9223372036854775809": false} {
		_, ok := IntKey(k)
		assert.Equal(t, want, ok, "%q", k)
	}
}

// FuzzParseStrMatchesPHP reads arbitrary forms with ParseStr and with PHP's parse_str, through
// one PHP process per fuzz worker, and requires the same array, bytes, key types and order, the
// same JSON, and the same word on dropped variables.
func FuzzParseStrMatchesPHP(f *testing.F) {
	for _, in := range cases {
		f.Add(in)
	}
	php := startPHP(f)
	f.Fuzz(func(t *testing.T, in string) {
		got, more := ParseStr(in)
		checkPHP(t, in, got, more, php.parse(t, in))
	})
}

// phpServer is php -S serving testdata/parse.php, which answers a POST with a line for $_POST.
type phpServer struct {
	base string
	hc   *http.Client
}

func servePHP(t testing.TB) *phpServer {
	return &phpServer{
		base: testkit.ServePHP(t, "testdata/parse.php"),
		hc:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
}

// post posts body under contentType and returns what PHP made of it.
func (s *phpServer) post(t *testing.T, contentType, body string) phpAnswer {
	t.Helper()
	resp, err := s.hc.Post(s.base, contentType, strings.NewReader(body))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	return readAnswer(t, strings.TrimSuffix(string(b), "\n"))
}

// phpAnswer is what PHP made of a form: see testdata/parse.php.
type phpAnswer struct {
	serialized, json string
	warned           bool
}

func checkPHP(t *testing.T, in string, got *Array, more bool, php phpAnswer) {
	t.Helper()
	assert.Equal(t, php.serialized, serialize(got), "the array of %.100q", in)
	assert.Equal(t, php.json, string(got.AppendJSON(nil)), "the JSON of %.100q", in)
	assert.Equal(t, php.warned, more, "variables dropped from %.100q", in)
}

// phpProcess is one php running testdata/parse.php, which answers a line for each it reads.
type phpProcess struct {
	in  io.Writer
	out *bufio.Reader
}

func startPHP(t testing.TB) *phpProcess {
	cmd := exec.Command(testkit.PHP(t), "-n", "-d", "display_errors=0", "testdata/parse.php")
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	return &phpProcess{in: in, out: bufio.NewReaderSize(out, 1<<16)}
}

func (p *phpProcess) parse(t *testing.T, s string) phpAnswer {
	t.Helper()
	_, err := io.WriteString(p.in, base64.StdEncoding.EncodeToString([]byte(s))+"\n")
	require.NoError(t, err)
	line, err := p.out.ReadString('\n')
	require.NoError(t, err)
	return readAnswer(t, strings.TrimSuffix(line, "\n"))
}

func readAnswer(t *testing.T, line string) phpAnswer {
	t.Helper()
	fields := strings.Split(line, " ")
	require.Len(t, fields, 3, "PHP's answer: %.200q", line)
	ser, err := base64.StdEncoding.DecodeString(fields[0])
	require.NoError(t, err)
	js, err := base64.StdEncoding.DecodeString(fields[1])
	require.NoError(t, err)
	return phpAnswer{serialized: string(ser), json: string(js), warned: fields[2] == "1"}
}

// serialize writes a as PHP's serialize does, integer keys as integers.
func serialize(a *Array) string {
	var b strings.Builder
	fmt.Fprintf(&b, "a:%d:{", a.Len())
	for k, v := range a.All() {
		if n, ok := IntKey(k); ok {
			fmt.Fprintf(&b, "i:%d;", n)
		} else {
			fmt.Fprintf(&b, "s:%d:\"%s\";", len(k), k)
		}
		switch v := v.(type) {
		case string:
			fmt.Fprintf(&b, "s:%d:\"%s\";", len(v), v)
		case *Array:
			b.WriteString(serialize(v))
		}
	}
	b.WriteString("}")
	return b.String()
}

// dispositions are Content-Disposition headers whose reading PHP gets its own way.
var dispositions = []string{
	`form-data; name="a"`, `form-data; name=b`, `attachment; name="c"`, `name="d"`, `form-data; NAME="e"`,
	`form-data; name=f.g[h][]`, `form-data; name="i j"; name="k"`, `form-data; name='l;m'`,
	`form-data; name="n\"o\\p\q"`, `form-data; name=r\\s\"t`, `form-data; name = "u"`, `form-data; name=="v"`,
	`form-data;name="w";filename="x.txt"`, `form-data; name="y"; filename=""`, `form-data; filename="z"`,
	`form-data; name="a1 b1" c1`, `form-data; name=a2 b2`, `form-data; name="a3`, `form-data; na"me=x"; name="a4"`,
	`form-data; name*=UTF-8''a5`, `form-data; FileName="a6"; name="a6"`, `form-data; name=""`, `form-data`, ``,
}

// TestPartsMatchPHP posts a part under each disposition to PHP and reads the body with Parts:
// the fields PHP fills $_POST with, files aside, are the parts Parts says are not files.
func TestPartsMatchPHP(t *testing.T) {
	php := servePHP(t)
	headers := []string{"X-No-Disposition: 1"} // a part without one
	for _, cd := range dispositions {
		headers = append(headers, "Content-Disposition: "+cd)
	}
	for i, h := range headers {
		body := fmt.Sprintf("--XX\r\nContent-Disposition: form-data; name=\"first\"\r\n\r\nf\r\n--XX\r\n%s\r\n\r\nv%d"+
			"\r\n--XX\r\nContent-Disposition: form-data; name=\"last\"\r\nContent-Transfer-Encoding: quoted-printable"+
			"\r\n\r\na=3Db=\r\nc\r\n--XX--\r\n", h, i)
		want := php.post(t, "multipart/form-data; boundary=XX", body)
		got := &Array{}
		for p, err := range Parts(strings.NewReader(body), "XX") {
			require.NoError(t, err, h)
			if !p.File {
				got.Set(p.Name, string(p.Data))
			}
		}
		checkPHP(t, h, got, false, want)
	}
}

// TestPartsFramingDiffersFromPHP posts bodies framed otherwise than a client frames them, and
// pins down how Parts (Go's mime/multipart under it) reads each against PHP's rfc1867.c: the same
// fields, a refusal (an error, where PHP reads what it can of a body cut short), or fields of
// its own: where the two part ways, which FuzzPostMatchesPHP keeps clear of.
func TestPartsFramingDiffersFromPHP(t *testing.T) {
	php := servePHP(t)
	const cd, end = "--XX\r\nContent-Disposition: form-data; name=a\r\n", "\r\n--XX--\r\n"
	for _, tt := range []struct{ body, parts string }{ // parts: "same", "refused", or what Parts reads
		{cd + "\r\nv" + end, "same"},
		{cd + "\r\nv\r\n--XX--", "same"},  // no line break after the close delimiter
		{cd + "\r\nv\r\n--XX", "refused"}, // no close delimiter: PHP reads a=v, the parts after a cut lost
		{cd + "\r\nv\r\n--XX\r\n", "refused"},
		{"", "refused"}, // PHP reads nothing
		{"preamble\r\n" + cd + "\r\nv" + end, "same"},
		{"--XX\nContent-Disposition: form-data; name=a\n\nv\n--XX--\n", "same"},
		{"--XX\r\nContent-Disposition: form-data;\r\n name=a\r\nX: y\r\n\r\nv" + end, "same"},
		{cd + "\r\nv", "refused"}, // PHP reads a=v
		{cd, "refused"},           // PHP reads a="" (mime/multipart ends the parts without an error)
		{"--XX\r\n", "refused"},   // PHP reads nothing
		{cd + "\r\nv\r\n--XX--junk\r\n", "refused"},
		{"--XX \r\nContent-Disposition: form-data; name=a\r\n\r\nv" + end, `{"a":"v"}`}, // PHP wants the line exactly
		{cd + "\r\n--XX--\r\n", `{"a":""}`},                                             // PHP reads a="--XX--": it looks for "\n--XX"
		{cd + "\r\nv\n--XX\r\nContent-Disposition: form-data; name=b\r\n\r\nw" + end, `{"a":"v\n--XX\r\nContent-Disposition: form-data; name=b\r\n\r\nw"}`},
		{cd + "\r\nv\r\n--XXY" + end, `{"a":"v\r\n--XXY"}`},                               // PHP ends a's data at "\n--XX", whatever follows
		{"--XX\r\nContent-Disposition: form-data; name=\"a \r\n\r\nv" + end, `{"a":"v"}`}, // PHP reads a_: textproto trims the header
	} {
		want := php.post(t, "multipart/form-data; boundary=XX", tt.body)
		got := &Array{}
		var err error
		for p, e := range Parts(strings.NewReader(tt.body), "XX") {
			if err = e; e == nil && !p.File {
				got.Set(p.Name, string(p.Data))
			}
		}
		switch tt.parts {
		case "refused":
			assert.Error(t, err, "%q", tt.body)
		case "same":
			require.NoError(t, err, "%q", tt.body)
			checkPHP(t, tt.body, got, false, want)
		default:
			require.NoError(t, err, "%q", tt.body)
			assert.Equal(t, tt.parts, string(got.AppendJSON(nil)), "%q", tt.body)
			assert.NotEqual(t, want.json, tt.parts, "PHP now reads %q as Parts does", tt.body)
		}
	}
}

// Every prefix of a body, but the whole, is refused: Parts yields all its parts or ends in an
// error, never fewer parts in silence.
func TestPartsOfABodyCutShortEndInAnError(t *testing.T) {
	t.Parallel()
	const body = "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n3\r\n--XX--\r\n"
	for n := range len(body) + 1 {
		var names []string
		var err error
		for p, e := range Parts(strings.NewReader(body[:n]), "XX") {
			if err = e; e == nil {
				names = append(names, p.Name)
			}
		}
		if n == len(body) || n == len(body)-len("\r\n") { // a close delimiter needs no line break
			require.NoError(t, err, "%q", body[:n])
			assert.Equal(t, []string{"a", "b", "c"}, names)
		} else {
			assert.Error(t, err, "%q", body[:n]) // io.ErrUnexpectedEOF, or a header line cut short
		}
	}
}
