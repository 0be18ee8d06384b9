package flex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Codec decodes and encodes the struct type T by its fields' json tags, the way the platform's
// PHP writes JSON and the way a Go program wants it back:
//
//   - Member names match exactly ("SN" is not "sn"); the last of repeated members wins, as in PHP.
//   - Scalars are tolerant: numbers may come as strings ("15", "83.33", "50%"), text as numbers,
//     booleans as 1/0, times as "Y-m-d H:i:s" in China time (also "Y-m-d", RFC 3339 or Unix
//     seconds), and null, "" or PHP's empty array [] mean the zero value.
//   - A member whose value does not fit its field (an object where a number is expected, text that
//     is not a number) leaves the field zero and is kept in Extra under its name; so is every
//     member without a field. Nothing received is lost: a type without Extra fails to decode a
//     member that does not fit, and ignores members it has no field for.
//   - A list may also come as PHP writes an array with holes: an object keyed "0", "2", …; its
//     values are the items, in order.
//   - Text keeps its bytes as received, even bytes that are not valid UTF-8.
//
// T's exported fields need a json tag; a field Extra of type map[string]json.RawMessage and a field
// Raw of type json.RawMessage, both tagged "-", receive the members without a field and the object
// as received. Fields of struct, pointer and slice types are decoded by the same rules; a field
// type with its own UnmarshalJSON (or MarshalJSON) is left to it.
//
// Encoding writes the fields in order with their wire names — times in China time as
// "2006-01-02 15:04:05" (and its fraction of a second, if any), "" for the zero time — and then
// Extra's members, by name; Raw is not written. What Encode writes, Decode reads back to equal
// fields.
type Codec[T any] struct {
	p    *plan
	list *typePlan // of []*T, for DecodeList
}

// NewCodec returns the Codec of T. It panics when T is not a struct or a field cannot be handled:
// a programming error, met when the package that declares T is initialised.
//
// A field type with its own UnmarshalJSON is left to it, which reads its bytes a second time; the
// types named by Inline are decoded in place instead, by their fields — give it those whose
// UnmarshalJSON and MarshalJSON are their own Codec's and nothing more.
func NewCodec[T any](inline ...Inlined) *Codec[T] {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("flex.NewCodec: %s is not a struct", t))
	}
	p := newPlan(t, inline)
	return &Codec[T]{p: p, list: &typePlan{kind: kSlice, typ: reflect.TypeFor[[]*T](),
		elem: &typePlan{kind: kPtr, typ: reflect.PointerTo(t), elem: &typePlan{kind: kStruct, typ: t, obj: p}}}}
}

// Inlined names a type a Codec decodes in place; see NewCodec.
type Inlined struct{ t reflect.Type }

// Inline names T for NewCodec.
func Inline[T any]() Inlined { return Inlined{reflect.TypeFor[T]()} }

// Decode decodes the JSON object b into v.
func (c *Codec[T]) Decode(b []byte, v *T) error { return c.decode(&decoder{b: b}, v) }

// DecodeOwned is Decode for a b that v may keep, which nothing writes to once it is decoded: the
// Raw fields of v are slices of b, not copies (each capped at its end, so that an append to one
// copies it). member, when not nil, is called with the name and the value of each of the object's
// members, in order, as Members calls fn: the caller learns them without a second scan. The name
// is valid only during the call.
func (c *Codec[T]) DecodeOwned(b []byte, v *T, member func(name, value []byte)) error {
	return c.decode(&decoder{b: b, owned: true, member: member}, v)
}

func (c *Codec[T]) decode(d *decoder, v *T) error {
	b := d.b
	i := ws(b, 0)
	end, err := d.object(c.p, i, reflect.ValueOf(v).Elem(), 0)
	if err != nil {
		return err
	}
	if j := ws(b, end); j != len(b) {
		return syntaxErr(j, "data after the value")
	}
	return nil
}

// DecodeList decodes b, a list of T's objects, into v by the rules of a list field (see Codec): an
// array, or an object keyed by index; null, [] and {} for none; null items are dropped.
func (c *Codec[T]) DecodeList(b []byte, v *[]*T) error {
	i := ws(b, 0)
	d := decoder{b: b}
	end, _, err := d.value(c.list, i, reflect.ValueOf(v).Elem(), 0)
	if err != nil {
		return err
	}
	if j := ws(b, end); j != len(b) {
		return syntaxErr(j, "data after the value")
	}
	return nil
}

// Has reports whether T has a field for the member name.
func (c *Codec[T]) Has(name string) bool {
	_, ok := c.p.byName[name]
	return ok
}

// Encode returns v as a JSON object; see Codec.
func (c *Codec[T]) Encode(v *T) ([]byte, error) {
	return c.p.encode(make([]byte, 0, c.p.size), reflect.ValueOf(v).Elem())
}

// kind is how a type is decoded and encoded.
type kind uint8

const (
	kString kind = iota
	kInt
	kFloat
	kBool
	kTime
	kRaw    // json.RawMessage: the value as received
	kCustom // the type's own UnmarshalJSON / MarshalJSON, or encoding/json's for maps and interfaces
	kStruct
	kPtr
	kSlice
)

// typePlan is how to decode and encode one type.
type typePlan struct {
	kind kind
	typ  reflect.Type
	elem *typePlan // kPtr, kSlice
	obj  *plan     // kStruct
}

// plan is how to decode and encode a struct type.
type plan struct {
	typ    reflect.Type
	fields []fieldPlan
	byName map[string]int // wire name → index in fields
	extra  int            // the struct's Extra field, or -1
	raw    int            // the struct's Raw field, or -1
	size   int            // about the bytes of its JSON, for Encode's buffer
}

type fieldPlan struct {
	name      string
	member    string // the name as JSON, and a colon
	index     int    // in the struct
	omitEmpty bool
	t         *typePlan
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawType         = reflect.TypeFor[json.RawMessage]()
	extraType       = reflect.TypeFor[map[string]json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
)

func newPlan(t reflect.Type, inline []Inlined) *plan {
	p := &plan{typ: t, byName: map[string]int{}, extra: -1, raw: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			panic(fmt.Sprintf("flex: %s embeds %s: name the field", t, f.Type))
		}
		if !f.IsExported() {
			continue
		}
		tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" && f.Name == "Extra" && f.Type == extraType:
			p.extra = i
			continue
		case tag == "-" && f.Name == "Raw" && f.Type == rawType:
			p.raw = i
			continue
		case tag == "-":
			continue
		case tag == "":
			panic(fmt.Sprintf("flex: %s.%s has no json tag", t, f.Name))
		}
		if _, dup := p.byName[tag]; dup {
			panic(fmt.Sprintf("flex: %s has two fields named %q", t, tag))
		}
		p.byName[tag] = len(p.fields)
		member := string(appendString(nil, tag)) + ":"
		p.fields = append(p.fields, fieldPlan{name: tag, member: member, index: i, omitEmpty: opts == "omitempty", t: planFor(f.Type, t, inline)})
		p.size += len(member) + 24 // a comma, and a value: a time is 21 bytes
	}
	p.size += 64 // the braces, and a few members of Extra
	return p
}

// planFor returns the plan of t, a field type of the struct outer (which may not nest itself).
func planFor(t, outer reflect.Type, inline []Inlined) *typePlan {
	custom := t != timeType && t.Kind() != reflect.Pointer && // a pointer's element decides
		(reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(marshalerType)) && !slices.Contains(inline, Inlined{t})
	switch {
	case t == rawType:
		return &typePlan{kind: kRaw, typ: t}
	case custom:
		return &typePlan{kind: kCustom, typ: t}
	case t == timeType:
		return &typePlan{kind: kTime, typ: t}
	}
	switch t.Kind() {
	case reflect.String:
		return &typePlan{kind: kString, typ: t}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &typePlan{kind: kInt, typ: t}
	case reflect.Float32, reflect.Float64:
		return &typePlan{kind: kFloat, typ: t}
	case reflect.Bool:
		return &typePlan{kind: kBool, typ: t}
	case reflect.Struct:
		if t == outer {
			panic(fmt.Sprintf("flex: %s nests itself", t))
		}
		return &typePlan{kind: kStruct, typ: t, obj: newPlan(t, inline)}
	case reflect.Pointer:
		return &typePlan{kind: kPtr, typ: t, elem: planFor(t.Elem(), outer, inline)}
	case reflect.Slice:
		return &typePlan{kind: kSlice, typ: t, elem: planFor(t.Elem(), outer, inline)}
	case reflect.Map, reflect.Interface:
		return &typePlan{kind: kCustom, typ: t}
	}
	panic(fmt.Sprintf("flex: cannot decode a %s", t))
}

// decoder is the state of one Decode.
type decoder struct {
	b       []byte
	scratch []byte                   // for unescaping, reused
	owned   bool                     // Raw fields may share b (DecodeOwned)
	member  func(name, value []byte) // called with each member of the outermost object
}

// unescape returns the content of a string holding escapes, resolved, in scratch: valid until the
// next call.
func (d *decoder) unescape(s []byte) []byte {
	if cap(d.scratch) < len(s) {
		d.scratch = make([]byte, 0, max(len(s), 64)) // resolving never lengthens: no growth in unescape
	}
	d.scratch = unescape(d.scratch[:0], s)
	return d.scratch
}

// object decodes the object at b[i] into the struct v and returns the index past it. PHP's empty
// array [] and null leave v zero.
func (d *decoder) object(p *plan, i int, v reflect.Value, depth int) (int, error) {
	b := d.b
	if end, ok := emptyValue(b, i); ok {
		v.SetZero()
		return end, nil
	}
	v.SetZero()
	var extra map[string]json.RawMessage
	end, err := members(b, i, depth+1, func(ks, ke int, escaped bool, vi int) (int, error) {
		key := b[ks:ke]
		if escaped {
			key = d.unescape(key)
		}
		var end int
		var fit bool // the value is in its field
		var err error
		if fi, known := p.byName[string(key)]; known {
			f := &p.fields[fi]
			if escaped {
				key = bytes.Clone(key) // the field may reuse scratch
			}
			if end, fit, err = d.value(f.t, vi, v.Field(f.index), depth+1); err != nil {
				return end, err
			}
			if !fit && p.extra < 0 {
				return end, fmt.Errorf("member %q: %.40s is not a %s", key, b[vi:end], f.t.typ)
			}
			if !fit {
				v.Field(f.index).SetZero() // kept in Extra instead
			}
		} else if end, err = skip(b, vi, depth+1); err != nil {
			return end, err
		}
		switch {
		case !fit && p.extra >= 0:
			extra = keep(extra, string(key), b[vi:end])
		case extra != nil:
			delete(extra, string(key)) // the last of repeated members wins: one that fits leaves none behind
		}
		if depth == 0 && d.member != nil {
			d.member(key, b[vi:end])
		}
		return end, nil
	})
	if err != nil {
		return i, err
	}
	if p.extra >= 0 && extra != nil {
		v.Field(p.extra).Set(reflect.ValueOf(extra))
	}
	switch {
	case p.raw >= 0 && d.owned:
		v.Field(p.raw).SetBytes(b[i:end:end])
	case p.raw >= 0:
		v.Field(p.raw).SetBytes(bytes.Clone(b[i:end]))
	}
	return end, nil
}

// keep adds a member to extra, making it when needed.
func keep(extra map[string]json.RawMessage, name string, value []byte) map[string]json.RawMessage {
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	extra[name] = bytes.Clone(value)
	return extra
}

// emptyValue reports whether the value at b[i] is null, [] or {} — a value PHP writes for
// nothing — and returns the index past it.
func emptyValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case 'n':
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			return i + 4, true
		}
	case '[', '{':
		close := byte(']')
		if b[i] == '{' {
			close = '}'
		}
		if j := ws(b, i+1); j < len(b) && b[j] == close {
			return j + 1, true
		}
	}
	return i, false
}

// value decodes the value at b[i] into v. fit is false when the value is valid JSON that does
// not fit a scalar field; structures that do not fit are an error.
func (d *decoder) value(tp *typePlan, i int, v reflect.Value, depth int) (end int, fit bool, err error) {
	b := d.b
	switch tp.kind {
	case kStruct:
		end, err = d.object(tp.obj, i, v, depth)
		return end, true, err
	case kPtr:
		if end, ok := emptyValue(b, i); ok {
			v.SetZero()
			return end, true, nil
		}
		if v.IsNil() {
			v.Set(reflect.New(tp.typ.Elem()))
		}
		return d.value(tp.elem, i, v.Elem(), depth)
	case kSlice:
		end, err = d.slice(tp, i, v, depth)
		return end, true, err
	case kRaw:
		end, err = skip(b, i, depth)
		if err == nil {
			v.SetBytes(bytes.Clone(b[i:end]))
		}
		return end, true, err
	case kCustom:
		end, err = skip(b, i, depth)
		if err != nil {
			return end, false, err
		}
		if _, empty := emptyValue(b, i); empty && tp.typ.Kind() != reflect.Map && tp.typ.Kind() != reflect.Interface {
			v.SetZero()
			return end, true, nil
		}
		var err error
		if u, ok := v.Addr().Interface().(json.Unmarshaler); ok {
			err = u.UnmarshalJSON(b[i:end]) // validated already: no second check
		} else {
			err = json.Unmarshal(b[i:end], v.Addr().Interface())
		}
		return end, err == nil, nil
	}
	return d.scalar(i, v, tp.kind, depth)
}

// slice decodes a list: an array, an object keyed by index (PHP's array with holes), or null, []
// or {} for none. Null items are dropped; an item [] or {} of a list of pointers is a pointer to
// the zero value, as encoding/json makes it.
func (d *decoder) slice(tp *typePlan, i int, v reflect.Value, depth int) (int, error) {
	b := d.b
	if end, ok := emptyValue(b, i); ok {
		v.SetZero()
		return end, nil
	}
	list := reflect.MakeSlice(tp.typ, 0, 0)
	item := func(vi int) (int, error) {
		end, empty := emptyValue(b, vi)
		if empty && b[vi] == 'n' {
			return end, nil
		}
		list = reflect.Append(list, reflect.Zero(tp.typ.Elem()))
		if empty && tp.elem.kind == kPtr { // an item PHP wrote as [] or {}: there, but empty, never nil
			list.Index(list.Len() - 1).Set(reflect.New(tp.elem.typ.Elem()))
			return end, nil
		}
		end, fit, err := d.value(tp.elem, vi, list.Index(list.Len()-1), depth+1)
		if err == nil && !fit {
			err = syntaxErr(vi, "list item does not fit %s", tp.typ.Elem())
		}
		return end, err
	}
	var end int
	var err error
	switch {
	case i < len(b) && b[i] == '[':
		end, err = elements(b, i, depth+1, item)
	case i < len(b) && b[i] == '{':
		end, err = members(b, i, depth+1, func(_, _ int, _ bool, vi int) (int, error) { return item(vi) })
	default:
		if end, err = skip(b, i, depth); err == nil {
			err = syntaxErr(i, "expected a list")
		}
	}
	if err != nil {
		return i, err
	}
	v.Set(list)
	return end, nil
}

// scalar decodes the value at b[i] into the string, number, bool or time v.
func (d *decoder) scalar(i int, v reflect.Value, k kind, depth int) (int, bool, error) {
	b := d.b
	if i >= len(b) {
		return i, false, syntaxErr(i, "%v", errEnd)
	}
	if end, ok := emptyValue(b, i); ok {
		v.SetZero()
		return end, true, nil
	}
	var text []byte // the value as text: a string's content, or a number's or bool's literal
	var str bool
	switch b[i] {
	case '"':
		start, end, escaped, err := scanString(b, i)
		if err != nil {
			return end, false, err
		}
		text, str = b[start+1:end-1], true
		if escaped {
			text = d.unescape(text)
		}
		return end, setText(v, k, text, str), nil
	case '{', '[':
		end, err := skip(b, i, depth)
		return end, false, err
	default:
		end, err := skip(b, i, depth)
		if err != nil {
			return end, false, err
		}
		return end, setText(v, k, b[i:end], false), nil
	}
}

// setText sets v from text: a JSON string's content (str, white space around it ignored but for a
// string field) or a number's or bool's literal. It reports whether the text fits. Only a string
// field keeps the text: for the others it is read where it lies.
func setText(v reflect.Value, k kind, text []byte, str bool) bool {
	if k == kString {
		v.SetString(string(text))
		return true
	}
	if str {
		text = bytes.TrimSpace(text)
	}
	return parse(v, k, string(text), str) // s does not escape: short text is converted on the stack
}

// parse sets v, of kind k other than kString, from s; see setText.
func parse(v reflect.Value, k kind, s string, str bool) bool {
	switch k {
	case kInt:
		n, ok := parseInt(s)
		if ok && !v.OverflowInt(n) {
			v.SetInt(n)
			return true
		}
	case kFloat:
		if str {
			s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
		}
		if s == "" {
			v.SetFloat(0)
			return true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			v.SetFloat(f)
			return true
		}
	case kBool:
		switch s {
		case "1", "true":
			v.SetBool(true)
			return true
		case "0", "false", "":
			v.SetBool(false)
			return true
		}
	case kTime:
		if t, err := ParseTime(s); err == nil {
			*v.Addr().Interface().(*time.Time) = t // v.Set would box t: an allocation
			return true
		}
	}
	return false
}

// parseInt reads an integer written as an integer, as an integral number ("12.0"), as true or
// false, or as "" (0).
func parseInt(s string) (int64, bool) {
	switch s {
	case "", "false":
		return 0, true
	case "true":
		return 1, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// encode appends the struct v as a JSON object.
func (p *plan) encode(dst []byte, v reflect.Value) ([]byte, error) {
	var extra map[string]json.RawMessage
	if p.extra >= 0 {
		extra = v.Field(p.extra).Interface().(map[string]json.RawMessage)
	}
	dst = append(dst, '{')
	first := true
	comma := func() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
	}
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.Field(f.index)
		if raw, ok := extra[f.name]; ok && fv.IsZero() { // a value that did not fit the field
			comma()
			dst = append(append(dst, f.member...), raw...)
			continue
		}
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		comma()
		dst = append(dst, f.member...)
		var err error
		if dst, err = f.t.encode(dst, fv); err != nil {
			return dst, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	for _, name := range slices.Sorted(mapKeys(extra)) {
		if fi, ok := p.byName[name]; ok && v.Field(p.fields[fi].index).IsZero() {
			continue // written in its field's place
		}
		comma()
		dst = append(appendString(dst, name), ':')
		dst = append(dst, extra[name]...)
	}
	return append(dst, '}'), nil
}

func mapKeys(m map[string]json.RawMessage) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// encode appends v.
func (tp *typePlan) encode(dst []byte, v reflect.Value) ([]byte, error) {
	switch tp.kind {
	case kString:
		return appendString(dst, v.String()), nil
	case kInt:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case kFloat:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return dst, fmt.Errorf("unsupported value %v", f)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	case kBool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case kTime:
		var t time.Time
		if v.CanAddr() {
			t = *v.Addr().Interface().(*time.Time) // a pointer: no copy to the heap
		} else {
			t = v.Interface().(time.Time)
		}
		if t.IsZero() {
			return append(dst, `""`...), nil
		}
		return append(appendTime(append(dst, '"'), t.In(China)), '"'), nil
	case kRaw:
		if v.Len() == 0 {
			return append(dst, "null"...), nil
		}
		return append(dst, v.Bytes()...), nil
	case kStruct:
		return tp.obj.encode(dst, v)
	case kPtr:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return tp.elem.encode(dst, v.Elem())
	case kSlice:
		dst = append(dst, '[')
		for i := range v.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = tp.elem.encode(dst, v.Index(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	b, err := json.Marshal(v.Interface())
	return append(dst, b...), err
}

// timeLayout is the platform's "Y-m-d H:i:s", with the fraction of a second a time has, if any,
// so that what Decode read (RFC 3339, or a value a program set) reads back to the same instant.
const timeLayout = time.DateTime + ".999999999"

// appendTime appends t in timeLayout: the digits by hand for a whole second of the years 0–9999,
// the platform's times, else by AppendFormat.
func appendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if t.Nanosecond() != 0 || year < 0 || year > 9999 {
		return t.AppendFormat(dst, timeLayout)
	}
	hour, minute, sec := t.Clock()
	two := func(n int) { dst = append(dst, byte('0'+n/10), byte('0'+n%10)) }
	two(year / 100)
	two(year % 100)
	dst = append(dst, '-')
	two(int(month))
	dst = append(dst, '-')
	two(day)
	dst = append(dst, ' ')
	two(hour)
	dst = append(dst, ':')
	two(minute)
	dst = append(dst, ':')
	two(sec)
	return dst
}

// appendString appends s as a JSON string. Bytes that are not valid UTF-8 become U+FFFD, as
// encoding/json writes them.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// Text returns the JSON scalar b as text by the Codec's rules for a string field: a string's
// content, a number or bool as written, "" for null and PHP's empty array. Anything else is an
// error.
func Text(b []byte) (string, error) {
	var s string
	if err := scalarOf(b, reflect.ValueOf(&s).Elem(), kString, "text"); err != nil {
		return "", err
	}
	return s, nil
}

// Time returns the JSON scalar b as a time by the Codec's rules for a time field: the zero time
// for null, "" and PHP's empty array. Anything else that is no platform time is an error.
func Time(b []byte) (time.Time, error) {
	var t time.Time
	if err := scalarOf(b, reflect.ValueOf(&t).Elem(), kTime, "a platform time"); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// scalarOf decodes the JSON scalar b, alone but for white space, into v of kind k, a what.
func scalarOf(b []byte, v reflect.Value, k kind, what string) error {
	d := decoder{b: b}
	i := ws(b, 0)
	end, fit, err := d.scalar(i, v, k, 0)
	switch {
	case err != nil:
		return err
	case !fit:
		return fmt.Errorf("%.40s is not %s", b[i:end], what)
	case ws(b, end) != len(b):
		return syntaxErr(ws(b, end), "data after the value")
	}
	return nil
}

// Exact reports an error for a value that must be told apart from every other and whose text, as
// Text reads it, is not exactly what was sent: an escaped surrogate that pairs with no other
// ("\ud800") is no text, and the U+FFFD Text puts in its place would make the value equal to
// others. Bytes that are not UTF-8 are kept as received: they are exact.
func Exact(b []byte) error {
	if i := ws(b, 0); i < len(b) && b[i] == '"' {
		if start, end, escaped, err := scanString(b, i); err == nil && escaped && loneSurrogate(b[start+1:end-1]) {
			return errLoneSurrogate
		}
	}
	return nil
}

var errLoneSurrogate = errors.New("an escaped lone surrogate, which is no text")

// loneSurrogate reports whether the content of a JSON string (escapes as written, checked by
// scanString) escapes a surrogate that does not pair with the escape after it.
func loneSurrogate(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++
		if s[i] != 'u' {
			continue
		}
		r := hex4(s[i+1 : i+5])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if i+6 >= len(s) || s[i+1] != '\\' || s[i+2] != 'u' || utf16.DecodeRune(r, hex4(s[i+3:i+7])) == utf8.RuneError {
			return true
		}
		i += 6
	}
	return false
}
