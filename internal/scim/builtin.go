package scim

import "fmt"

// The built-in schemas and resource types of RFC 7643 §4 and §8.7.
var (
	// UserSchema is the core User schema (RFC 7643 §4.1).
	UserSchema = mustSchema(SchemaUser, "User", "User Account", userAttributes())
	// GroupSchema is the core Group schema (RFC 7643 §4.2).
	GroupSchema = mustSchema(SchemaGroup, "Group", "Group", groupAttributes())
	// EnterpriseUserSchema is the Enterprise User extension (RFC 7643 §4.3).
	EnterpriseUserSchema = mustSchema(SchemaEnterpriseUser, "EnterpriseUser", "Enterprise User", enterpriseAttributes())

	// UserResourceType is User with the optional Enterprise User extension.
	UserResourceType = mustResourceType("User", "/Users", "User Account", UserSchema,
		Extension{Schema: EnterpriseUserSchema})
	// GroupResourceType is Group.
	GroupResourceType = mustResourceType("Group", "/Groups", "Group", GroupSchema)

	// commonSchema holds the common attributes of RFC 7643 §3.1 and
	// "schemas"; every resource type resolves them. It is not rendered in
	// /Schemas (the RFC does not list them there).
	commonSchema = mustSchema("urn:scimgate:common", "Common", "Common attributes", commonAttributes())
)

func mustSchema(id, name, desc string, attrs []*Attribute) *Schema {
	s, err := NewSchema(id, name, desc, attrs)
	if err != nil {
		panic(fmt.Sprintf("built-in schema: %v", err))
	}
	return s
}

func mustResourceType(name, endpoint, desc string, core *Schema, exts ...Extension) *ResourceType {
	rt, err := NewResourceType(name, endpoint, desc, core, exts...)
	if err != nil {
		panic(fmt.Sprintf("built-in resource type: %v", err))
	}
	return rt
}

func str(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: TypeString, Description: desc}
}

func boolean(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: TypeBoolean, Description: desc}
}

func ref(name, desc string, types ...string) *Attribute {
	return &Attribute{Name: name, Type: TypeReference, Description: desc, ReferenceTypes: types}
}

// multi builds a multi-valued complex attribute with the usual value,
// display, type and primary sub-attributes (RFC 7643 §2.4).
func multi(name, desc string, value *Attribute, types ...string) *Attribute {
	t := str("type", "A label indicating the attribute's function.")
	t.CanonicalValues = types
	return &Attribute{
		Name: name, Type: TypeComplex, MultiValued: true, Description: desc,
		SubAttributes: []*Attribute{
			value,
			str("display", "A human-readable name, primarily used for display purposes."),
			t,
			boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
		},
	}
}

func userAttributes() []*Attribute {
	userName := str("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.")
	userName.Required = true
	userName.Uniqueness = UniquenessServer

	password := str("password", "The User's cleartext password.")
	password.Mutability = MutabilityWriteOnly
	password.Returned = ReturnedNever

	groupValue := str("value", "The identifier of the User's group.")
	groupValue.Mutability = MutabilityReadOnly
	groupRef := ref("$ref", "The URI of the corresponding 'Group' resource to which the user belongs.", "User", "Group")
	groupRef.Mutability = MutabilityReadOnly
	groupDisplay := str("display", "A human-readable name, primarily used for display purposes.")
	groupDisplay.Mutability = MutabilityReadOnly
	groupType := str("type", "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.")
	groupType.Mutability = MutabilityReadOnly
	groupType.CanonicalValues = []string{"direct", "indirect"}

	address := &Attribute{
		Name: "addresses", Type: TypeComplex, MultiValued: true, Description: "A physical mailing address for this User.",
		SubAttributes: []*Attribute{
			str("formatted", "The full mailing address, formatted for display or use with a mailing label."),
			str("streetAddress", "The full street address component."),
			str("locality", "The city or locality component."),
			str("region", "The state or region component."),
			str("postalCode", "The zip code or postal code component."),
			str("country", "The country name component."),
			{Name: "type", Type: TypeString, Description: "A label indicating the attribute's function.", CanonicalValues: []string{"work", "home", "other"}},
			boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
		},
	}

	return []*Attribute{
		userName,
		{
			Name: "name", Type: TypeComplex, Description: "The components of the user's real name.",
			SubAttributes: []*Attribute{
				str("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
				str("familyName", "The family name of the User."),
				str("givenName", "The given name of the User."),
				str("middleName", "The middle name(s) of the User."),
				str("honorificPrefix", "The honorific prefix(es) of the User."),
				str("honorificSuffix", "The honorific suffix(es) of the User."),
			},
		},
		str("displayName", "The name of the User, suitable for display to end-users."),
		str("nickName", "The casual way to address the user in real life."),
		ref("profileUrl", "A fully qualified URL pointing to a page representing the User's online profile.", "external"),
		str("title", "The user's title, such as 'Vice President'."),
		str("userType", "Used to identify the relationship between the organization and the user."),
		str("preferredLanguage", "Indicates the User's preferred written or spoken language."),
		str("locale", "Used to indicate the User's default location for purposes of localizing items."),
		str("timezone", "The User's time zone in the 'Olson' time zone database format."),
		boolean("active", "A Boolean value indicating the User's administrative status."),
		password,
		multi("emails", "Email addresses for the user.", str("value", "Email addresses for the user."), "work", "home", "other"),
		multi("phoneNumbers", "Phone numbers for the User.", str("value", "Phone number of the User."), "work", "home", "mobile", "fax", "pager", "other"),
		multi("ims", "Instant messaging addresses for the User.", str("value", "Instant messaging address for the User."), "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
		multi("photos", "URLs of photos of the User.", ref("value", "URL of a photo of the User.", "external"), "photo", "thumbnail"),
		address,
		{
			Name: "groups", Type: TypeComplex, MultiValued: true, Mutability: MutabilityReadOnly,
			Description:   "A list of groups to which the user belongs.",
			SubAttributes: []*Attribute{groupValue, groupRef, groupDisplay, groupType},
		},
		multi("entitlements", "A list of entitlements for the User.", str("value", "The value of an entitlement.")),
		multi("roles", "A list of roles for the User.", str("value", "The value of a role.")),
		multi("x509Certificates", "A list of certificates issued to the User.", &Attribute{Name: "value", Type: TypeBinary, Description: "The value of an X.509 certificate."}),
	}
}

func groupAttributes() []*Attribute {
	displayName := str("displayName", "A human-readable name for the Group.")
	displayName.Required = true
	// Member ids are case-sensitive (RFC 7643 §3.1 id), so value is caseExact.
	value := &Attribute{Name: "value", Type: TypeString, CaseExact: true, Required: true, Mutability: MutabilityImmutable,
		Description: "Identifier of the member of this Group."}
	memberRef := ref("$ref", "The URI corresponding to a SCIM resource that is a member of this Group.", "User", "Group")
	memberRef.Mutability = MutabilityImmutable
	memberType := str("type", "A label indicating the type of resource, e.g., 'User' or 'Group'.")
	memberType.Mutability = MutabilityImmutable
	memberType.CanonicalValues = []string{"User", "Group"}
	display := str("display", "A human-readable name for the member.")
	display.Mutability = MutabilityReadOnly
	return []*Attribute{
		displayName,
		{
			Name: "members", Type: TypeComplex, MultiValued: true, Description: "A list of members of the Group.",
			SubAttributes: []*Attribute{value, memberRef, memberType, display},
		},
	}
}

func enterpriseAttributes() []*Attribute {
	mgrValue := str("value", "The id of the SCIM resource representing the User's manager.")
	mgrRef := ref("$ref", "The URI of the SCIM resource representing the User's manager.", "User")
	mgrDisplay := str("displayName", "The displayName of the User's manager.")
	mgrDisplay.Mutability = MutabilityReadOnly
	return []*Attribute{
		str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
		str("costCenter", "Identifies the name of a cost center."),
		str("organization", "Identifies the name of an organization."),
		str("division", "Identifies the name of a division."),
		str("department", "Identifies the name of a department."),
		{
			Name: "manager", Type: TypeComplex, Description: "The User's manager.",
			SubAttributes: []*Attribute{mgrValue, mgrRef, mgrDisplay},
		},
	}
}

func commonAttributes() []*Attribute {
	meta := func(name string, t Type) *Attribute {
		return &Attribute{Name: name, Type: t, CaseExact: t != TypeDateTime, Mutability: MutabilityReadOnly}
	}
	return []*Attribute{
		{Name: "id", Type: TypeString, CaseExact: true, Mutability: MutabilityReadOnly, Returned: ReturnedAlways, Uniqueness: UniquenessServer,
			Description: "A unique identifier for a SCIM resource as defined by the service provider."},
		{Name: "externalId", Type: TypeString, CaseExact: true,
			Description: "A String that is an identifier for the resource as defined by the provisioning client."},
		{Name: "schemas", Type: TypeReference, MultiValued: true, Mutability: MutabilityReadOnly, Returned: ReturnedAlways,
			Description: "The schemas the resource's attributes belong to."},
		{
			Name: "meta", Type: TypeComplex, Mutability: MutabilityReadOnly, Description: "Resource metadata.",
			SubAttributes: []*Attribute{
				meta("resourceType", TypeString),
				meta("created", TypeDateTime),
				meta("lastModified", TypeDateTime),
				meta("location", TypeReference),
				meta("version", TypeString),
			},
		},
	}
}
