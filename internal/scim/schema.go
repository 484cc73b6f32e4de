package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Schema URNs of RFC 7643 and RFC 7644.
const (
	SchemaUser                  = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup                 = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterpriseUser        = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaSchema                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	SchemaResourceType          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaServiceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaListResponse          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp               = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaSearchRequest         = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// Type is an attribute data type (RFC 7643 §2.3).
type Type string

// The attribute data types.
const (
	TypeString    Type = "string"
	TypeBoolean   Type = "boolean"
	TypeDecimal   Type = "decimal"
	TypeInteger   Type = "integer"
	TypeDateTime  Type = "dateTime"
	TypeBinary    Type = "binary"
	TypeReference Type = "reference"
	TypeComplex   Type = "complex"
)

// Mutability says whether and how an attribute may be written (RFC 7643 §7).
type Mutability string

// The mutability values; the zero value means MutabilityReadWrite.
const (
	MutabilityReadOnly  Mutability = "readOnly"
	MutabilityReadWrite Mutability = "readWrite"
	MutabilityImmutable Mutability = "immutable"
	MutabilityWriteOnly Mutability = "writeOnly"
)

// Returned says when an attribute is returned in a response (RFC 7643 §7).
type Returned string

// The returned values; the zero value means ReturnedDefault.
const (
	ReturnedAlways  Returned = "always"
	ReturnedNever   Returned = "never"
	ReturnedDefault Returned = "default"
	ReturnedRequest Returned = "request"
)

// Uniqueness says how an attribute's values must be unique (RFC 7643 §7).
type Uniqueness string

// The uniqueness values; the zero value means UniquenessNone.
const (
	UniquenessNone   Uniqueness = "none"
	UniquenessServer Uniqueness = "server"
	UniquenessGlobal Uniqueness = "global"
)

// Attribute defines one attribute or sub-attribute (RFC 7643 §2.2, §7).
// Zero Mutability, Returned and Uniqueness take the RFC defaults (readWrite,
// default, none) when the attribute is put into a schema with NewSchema.
// Attributes obtained from a Schema or ResourceType are shared: do not
// modify them.
type Attribute struct {
	Name            string
	Type            Type
	MultiValued     bool
	Description     string
	Required        bool
	CaseExact       bool
	Mutability      Mutability
	Returned        Returned
	Uniqueness      Uniqueness
	CanonicalValues []string
	ReferenceTypes  []string
	SubAttributes   []*Attribute

	subs map[string]*Attribute // lower-cased name -> sub-attribute
}

// Sub returns the sub-attribute named name (case-insensitively), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	if a == nil {
		return nil
	}
	return a.subs[strings.ToLower(name)]
}

// MarshalJSON renders the attribute as in the /Schemas endpoint.
func (a *Attribute) MarshalJSON() ([]byte, error) {
	type doc struct {
		Name            string       `json:"name"`
		Type            Type         `json:"type"`
		MultiValued     bool         `json:"multiValued"`
		Description     string       `json:"description,omitempty"`
		Required        bool         `json:"required"`
		CaseExact       bool         `json:"caseExact"`
		Mutability      Mutability   `json:"mutability"`
		Returned        Returned     `json:"returned"`
		Uniqueness      Uniqueness   `json:"uniqueness"`
		CanonicalValues []string     `json:"canonicalValues,omitempty"`
		ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
		SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
	}
	return json.Marshal(doc{
		Name: a.Name, Type: a.Type, MultiValued: a.MultiValued, Description: a.Description,
		Required: a.Required, CaseExact: a.CaseExact, Mutability: a.Mutability, Returned: a.Returned,
		Uniqueness: a.Uniqueness, CanonicalValues: a.CanonicalValues, ReferenceTypes: a.ReferenceTypes,
		SubAttributes: a.SubAttributes,
	})
}

// Schema is a named set of attribute definitions (RFC 7643 §7). Build one
// with NewSchema; it is immutable afterwards.
type Schema struct {
	id          string
	name        string
	description string
	attrs       []*Attribute
	index       map[string]*Attribute
}

// NewSchema validates attribute definitions and builds a schema from deep
// copies of them. Names must be valid SCIM attribute names, unique
// case-insensitively; complex attributes need sub-attributes, which may not
// themselves be complex.
func NewSchema(id, name, description string, attrs []*Attribute) (*Schema, error) {
	if id == "" {
		return nil, errors.New("scim schema: empty id")
	}
	s := &Schema{id: id, name: name, description: description, index: make(map[string]*Attribute, len(attrs))}
	var errs []error
	for _, a := range attrs {
		c, err := prepareAttribute(a, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := strings.ToLower(c.Name)
		if _, dup := s.index[key]; dup {
			errs = append(errs, fmt.Errorf("attribute %q defined twice", c.Name))
			continue
		}
		s.index[key] = c
		s.attrs = append(s.attrs, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scim schema %q: %w", id, err)
	}
	return s, nil
}

func prepareAttribute(a *Attribute, isSub bool) (*Attribute, error) {
	if a == nil {
		return nil, errors.New("nil attribute")
	}
	c := *a
	c.subs = nil
	c.SubAttributes = nil
	c.CanonicalValues = slices.Clone(a.CanonicalValues)
	c.ReferenceTypes = slices.Clone(a.ReferenceTypes)
	if !validAttrName(c.Name) {
		return nil, fmt.Errorf("invalid attribute name %q", c.Name)
	}
	switch c.Type {
	case TypeString, TypeBoolean, TypeDecimal, TypeInteger, TypeDateTime, TypeBinary, TypeReference, TypeComplex:
	default:
		return nil, fmt.Errorf("attribute %q: unknown type %q", c.Name, c.Type)
	}
	if c.Mutability == "" {
		c.Mutability = MutabilityReadWrite
	}
	if c.Returned == "" {
		c.Returned = ReturnedDefault
	}
	if c.Uniqueness == "" {
		c.Uniqueness = UniquenessNone
	}
	switch c.Mutability {
	case MutabilityReadOnly, MutabilityReadWrite, MutabilityImmutable, MutabilityWriteOnly:
	default:
		return nil, fmt.Errorf("attribute %q: unknown mutability %q", c.Name, c.Mutability)
	}
	switch c.Returned {
	case ReturnedAlways, ReturnedNever, ReturnedDefault, ReturnedRequest:
	default:
		return nil, fmt.Errorf("attribute %q: unknown returned %q", c.Name, c.Returned)
	}
	switch c.Uniqueness {
	case UniquenessNone, UniquenessServer, UniquenessGlobal:
	default:
		return nil, fmt.Errorf("attribute %q: unknown uniqueness %q", c.Name, c.Uniqueness)
	}
	if c.Type != TypeComplex {
		if len(a.SubAttributes) > 0 {
			return nil, fmt.Errorf("attribute %q: sub-attributes on a %s attribute", c.Name, c.Type)
		}
		return &c, nil
	}
	if isSub {
		return nil, fmt.Errorf("sub-attribute %q: complex sub-attributes are not allowed", c.Name)
	}
	if len(a.SubAttributes) == 0 {
		return nil, fmt.Errorf("attribute %q: complex attribute without sub-attributes", c.Name)
	}
	c.subs = make(map[string]*Attribute, len(a.SubAttributes))
	for _, sa := range a.SubAttributes {
		sc, err := prepareAttribute(sa, true)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", c.Name, err)
		}
		key := strings.ToLower(sc.Name)
		if _, dup := c.subs[key]; dup {
			return nil, fmt.Errorf("attribute %q: sub-attribute %q defined twice", c.Name, sc.Name)
		}
		c.subs[key] = sc
		c.SubAttributes = append(c.SubAttributes, sc)
	}
	return &c, nil
}

// validAttrName reports whether s is an ATTRNAME of RFC 7643 §2.1
// (ALPHA *(nameChar)), allowing the leading "$" of "$ref".
func validAttrName(s string) bool {
	s = strings.TrimPrefix(s, "$")
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ID returns the schema URN.
func (s *Schema) ID() string { return s.id }

// Name returns the schema's human-readable name.
func (s *Schema) Name() string { return s.name }

// Description returns the schema's description.
func (s *Schema) Description() string { return s.description }

// Attributes returns the schema's attributes in definition order.
func (s *Schema) Attributes() []*Attribute { return slices.Clone(s.attrs) }

// Attribute returns the attribute named name (case-insensitively), or nil.
func (s *Schema) Attribute(name string) *Attribute { return s.index[strings.ToLower(name)] }

// Document renders the schema as the /Schemas endpoint returns it (RFC 7643
// §7). baseURL is the SCIM base ("https://host/scim/v2"); when it is not
// empty, meta.location is baseURL + "/Schemas/" + id.
func (s *Schema) Document(baseURL string) map[string]any {
	meta := map[string]any{"resourceType": "Schema"}
	if baseURL != "" {
		meta["location"] = strings.TrimSuffix(baseURL, "/") + "/Schemas/" + s.id
	}
	doc := map[string]any{
		"schemas":    []any{SchemaSchema},
		"id":         s.id,
		"name":       s.name,
		"attributes": s.attrs,
		"meta":       meta,
	}
	if s.description != "" {
		doc["description"] = s.description
	}
	return doc
}

// Extension is a schema extension of a resource type.
type Extension struct {
	Schema   *Schema
	Required bool
}

// ResourceType binds a core schema and its extensions to an endpoint (RFC
// 7643 §6). Every resource type also knows the common attributes of RFC
// 7643 §3.1 (id, externalId, meta) and "schemas"; a core attribute of the
// same name takes precedence. Build one with NewResourceType; it is
// immutable afterwards and safe for concurrent use.
type ResourceType struct {
	name        string
	endpoint    string
	description string
	schema      *Schema
	exts        []Extension
	members     *Attribute // the core "members" attribute of group-like types
	slots       []AttrPath // every top-level attribute, see buildSlots
	// spelled maps each top-level key as the schemas spell it (attribute
	// names, extension URNs) to, for an extension, its attribute names.
	spelled map[string]map[string]bool
}

// NewResourceType builds a resource type. endpoint may be empty for
// resource types that are only used to evaluate filters (report entries).
func NewResourceType(name, endpoint, description string, core *Schema, exts ...Extension) (*ResourceType, error) {
	if name == "" {
		return nil, errors.New("scim resource type: empty name")
	}
	if core == nil {
		return nil, fmt.Errorf("scim resource type %q: nil core schema", name)
	}
	seen := map[string]bool{strings.ToLower(core.id): true}
	for _, e := range exts {
		if e.Schema == nil {
			return nil, fmt.Errorf("scim resource type %q: nil extension schema", name)
		}
		key := strings.ToLower(e.Schema.id)
		if seen[key] {
			return nil, fmt.Errorf("scim resource type %q: schema %q listed twice", name, e.Schema.id)
		}
		seen[key] = true
	}
	rt := &ResourceType{name: name, endpoint: endpoint, description: description, schema: core, exts: slices.Clone(exts)}
	if m := core.Attribute("members"); m != nil && m.Type == TypeComplex && m.MultiValued && m.Sub("value") != nil {
		rt.members = m
	}
	rt.slots = buildSlots(rt)
	rt.spelled = map[string]map[string]bool{}
	for _, p := range rt.slots {
		if !p.Ext {
			rt.spelled[p.Attr.Name] = nil
			continue
		}
		if rt.spelled[p.Schema.id] == nil {
			rt.spelled[p.Schema.id] = map[string]bool{}
		}
		rt.spelled[p.Schema.id][p.Attr.Name] = true
	}
	return rt, nil
}

// Name returns the resource type name ("User").
func (rt *ResourceType) Name() string { return rt.name }

// Endpoint returns the endpoint ("/Users").
func (rt *ResourceType) Endpoint() string { return rt.endpoint }

// Description returns the description.
func (rt *ResourceType) Description() string { return rt.description }

// Schema returns the core schema.
func (rt *ResourceType) Schema() *Schema { return rt.schema }

// Extensions returns the schema extensions.
func (rt *ResourceType) Extensions() []Extension { return slices.Clone(rt.exts) }

// Schemas returns the core schema followed by the extension schemas.
func (rt *ResourceType) Schemas() []*Schema {
	out := []*Schema{rt.schema}
	for _, e := range rt.exts {
		out = append(out, e.Schema)
	}
	return out
}

// Document renders the resource type as the /ResourceTypes endpoint returns
// it (RFC 7643 §6); see Schema.Document for baseURL.
func (rt *ResourceType) Document(baseURL string) map[string]any {
	meta := map[string]any{"resourceType": "ResourceType"}
	if baseURL != "" {
		meta["location"] = strings.TrimSuffix(baseURL, "/") + "/ResourceTypes/" + rt.name
	}
	doc := map[string]any{
		"schemas":  []any{SchemaResourceType},
		"id":       rt.name,
		"name":     rt.name,
		"endpoint": rt.endpoint,
		"schema":   rt.schema.id,
		"meta":     meta,
	}
	if rt.description != "" {
		doc["description"] = rt.description
	}
	if len(rt.exts) > 0 {
		exts := make([]any, 0, len(rt.exts))
		for _, e := range rt.exts {
			exts = append(exts, map[string]any{"schema": e.Schema.id, "required": e.Required})
		}
		doc["schemaExtensions"] = exts
	}
	return doc
}

// extension returns the extension schema with the given URN
// (case-insensitively), or nil.
func (rt *ResourceType) extension(urn string) *Schema {
	for _, e := range rt.exts {
		if strings.EqualFold(e.Schema.id, urn) {
			return e.Schema
		}
	}
	return nil
}

// schemaByURN returns the core or extension schema with the URN, or nil.
func (rt *ResourceType) schemaByURN(urn string) *Schema {
	if strings.EqualFold(rt.schema.id, urn) {
		return rt.schema
	}
	return rt.extension(urn)
}

// AttrPath is an attribute path resolved against a resource type: a whole
// extension ("urn:…:enterprise:2.0:User"), an attribute ("userName",
// "urn:…:enterprise:2.0:User:manager") or a sub-attribute ("name.givenName",
// "emails.value", "urn:…:enterprise:2.0:User:manager.value").
type AttrPath struct {
	// Schema owns the attribute; for an extension attribute the value
	// lives under res[Schema.ID()].
	Schema *Schema
	// Ext is true when the attribute belongs to an extension schema.
	Ext bool
	// Attr is the attribute; nil when the path names a whole extension.
	Attr *Attribute
	// Sub is the sub-attribute, or nil.
	Sub *Attribute
}

// Leaf returns the attribute the path ends at (Sub, else Attr; nil for a
// whole extension).
func (p AttrPath) Leaf() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// String renders the canonical path: core attributes by name,
// extension attributes URN-qualified.
func (p AttrPath) String() string {
	if p.Attr == nil {
		return p.Schema.id
	}
	s := p.Attr.Name
	if p.Ext {
		s = p.Schema.id + ":" + s
	}
	if p.Sub != nil {
		s += "." + p.Sub.Name
	}
	return s
}

// Values returns the values at the path in res: for a multi-valued
// attribute, one per element; for a sub-attribute of a multi-valued complex
// attribute, the sub-attribute of each element that has it.
func (p AttrPath) Values(res map[string]any) []any {
	c := containerOf(res, p, false)
	if c == nil {
		return nil
	}
	if p.Attr == nil {
		return []any{c}
	}
	v, ok := lookupKey(c, p.Attr.Name)
	if !ok || v == nil {
		return nil
	}
	var elems []any
	if arr, ok := v.([]any); ok {
		elems = arr
	} else {
		elems = []any{v}
	}
	if p.Sub == nil {
		return slices.Clone(elems)
	}
	var out []any
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if sv, ok := lookupKey(m, p.Sub.Name); ok && sv != nil {
			out = append(out, sv)
		}
	}
	return out
}

// Resolve resolves an attribute path: "userName", "name.givenName",
// "emails.value", "urn:ietf:params:scim:schemas:core:2.0:User:userName",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
// or an extension URN alone. Names and URNs are case-insensitive. An
// unqualified name is looked up in the core schema, then among the common
// attributes, then in the extensions.
func (rt *ResourceType) Resolve(path string) (AttrPath, bool) {
	if path == "" {
		return AttrPath{}, false
	}
	if strings.ContainsRune(path, ':') {
		// The longest schema URN that prefixes the path wins.
		var best *Schema
		for _, s := range rt.Schemas() {
			id := s.id
			if len(path) == len(id) && strings.EqualFold(path, id) {
				if s == rt.schema {
					return AttrPath{}, false
				}
				return AttrPath{Schema: s, Ext: true}, true
			}
			if len(path) > len(id)+1 && path[len(id)] == ':' && strings.EqualFold(path[:len(id)], id) {
				if best == nil || len(id) > len(best.id) {
					best = s
				}
			}
		}
		if best == nil {
			return AttrPath{}, false
		}
		name, sub, _ := strings.Cut(path[len(best.id)+1:], ".")
		return rt.resolveIn(best, name, sub)
	}
	name, sub, _ := strings.Cut(path, ".")
	return rt.resolveIn(nil, name, sub)
}

// resolveParts resolves the parts of a filter-parser attribute path.
func (rt *ResourceType) resolveParts(uri, name, sub string) (AttrPath, bool) {
	if uri == "" {
		return rt.resolveIn(nil, name, sub)
	}
	if s := rt.schemaByURN(uri); s != nil {
		return rt.resolveIn(s, name, sub)
	}
	// "urn:…:enterprise:2.0:User" parses as URI "urn:…:enterprise:2.0"
	// and attribute "User".
	if sub == "" {
		if s := rt.extension(uri + ":" + name); s != nil {
			return AttrPath{Schema: s, Ext: true}, true
		}
	}
	return AttrPath{}, false
}

// resolveKey resolves "name" or "name.sub" within schema s.
func (rt *ResourceType) resolveKey(s *Schema, key string) (AttrPath, bool) {
	name, sub, _ := strings.Cut(key, ".")
	return rt.resolveIn(s, name, sub)
}

// resolveIn resolves name[.sub] in schema s, or, when s is nil, by the
// unqualified lookup order.
func (rt *ResourceType) resolveIn(s *Schema, name, sub string) (AttrPath, bool) {
	if strings.ContainsRune(sub, '.') {
		return AttrPath{}, false
	}
	var p AttrPath
	switch {
	case s != nil && s != rt.schema:
		if a := s.Attribute(name); a != nil {
			p = AttrPath{Schema: s, Ext: true, Attr: a}
		}
	default:
		if a := rt.schema.Attribute(name); a != nil {
			p = AttrPath{Schema: rt.schema, Attr: a}
		} else if a := commonSchema.Attribute(name); a != nil {
			p = AttrPath{Schema: rt.schema, Attr: a}
		} else if s == nil {
			for _, e := range rt.exts {
				if a := e.Schema.Attribute(name); a != nil {
					p = AttrPath{Schema: e.Schema, Ext: true, Attr: a}
					break
				}
			}
		}
	}
	if p.Attr == nil {
		return AttrPath{}, false
	}
	if sub != "" {
		p.Sub = p.Attr.Sub(sub)
		if p.Sub == nil {
			return AttrPath{}, false
		}
	}
	return p, true
}

// coreAttr returns the core or common attribute named key, or nil.
func (rt *ResourceType) coreAttr(key string) *Attribute {
	if a := rt.schema.Attribute(key); a != nil {
		return a
	}
	return commonSchema.Attribute(key)
}

// containerOf returns the map holding p's attribute: res itself for core
// and common attributes, res[extension URN] for extension attributes (and
// for a whole-extension path). With create, a missing extension object is
// created.
func containerOf(res map[string]any, p AttrPath, create bool) map[string]any {
	if !p.Ext {
		return res
	}
	k, v, ok := lookupEntry(res, p.Schema.id)
	if ok {
		if m, isMap := v.(map[string]any); isMap {
			return m
		}
		if !create {
			return nil
		}
		delete(res, k)
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	res[p.Schema.id] = m
	return m
}

// lookupKey returns m[key], falling back to a case-insensitive match.
func lookupKey(m map[string]any, key string) (any, bool) {
	_, v, ok := lookupEntry(m, key)
	return v, ok
}

// lookupEntry is lookupKey that also returns the key as spelled in m.
func lookupEntry(m map[string]any, key string) (string, any, bool) {
	if v, ok := m[key]; ok {
		return key, v, true
	}
	for k, v := range m {
		if asciiEqualFold(k, key) {
			return k, v, true
		}
	}
	return "", nil, false
}

// asciiEqualFold compares attribute names and schema URNs, which are
// ASCII, case-insensitively (unlike strings.EqualFold it does not fold
// non-ASCII letters such as the Kelvin sign onto ASCII ones).
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// setKey sets m[key] = v, removing any other spelling of key.
func setKey(m map[string]any, key string, v any) {
	deleteKey(m, key)
	m[key] = v
}

// deleteKey removes key in every spelling.
func deleteKey(m map[string]any, key string) {
	delete(m, key)
	for k := range m {
		if asciiEqualFold(k, key) {
			delete(m, k)
		}
	}
}
