package caliper

import (
	"strings"
)

// The vocabulary of Caliper 1.2, from the specification's information model
// (1EdTech caliper-spec, model/caliper_v1p2.lines) and its conformance
// fixtures where the two differ. Each class lists its parents and the
// properties it adds, written "name:type", with "!" for required. Types are
// string, strings (an array of strings), integer, decimal, boolean,
// datetime, duration, iri, object, any, enum:NAME, enums:NAME (an array), or
// a class name. A class name stands for an entity given as an IRI or an
// object, and "*" after it for an array of them.

type classDef struct {
	name    string
	parents string // comma-separated
	props   string // semicolon-separated
}

var entityDefs = []classDef{
	{"Entity", "", "name:string; description:string; dateCreated:datetime; dateModified:datetime; " +
		"otherIdentifiers:SystemIdentifier*; extensions:object"},
	{"Agent", "Entity", ""},
	{"Person", "Agent", ""},
	{"SoftwareApplication", "Agent", "host:string; ipAddress:string; userAgent:string; version:string"},
	{"Organization", "Agent", "members:Agent*; subOrganizationOf:Organization"},
	{"CourseOffering", "Organization", "courseNumber:string; academicSession:string"},
	{"CourseSection", "CourseOffering", "category:string"},
	{"Group", "Organization", ""},
	{"Membership", "Entity", "organization:Organization; member:Person; roles:enums:role; status:enum:status"},
	{"DigitalResource", "Entity", "storageName:string; mediaType:string; version:string; creators:Agent*; " +
		"keywords:strings; learningObjectives:LearningObjective*; isPartOf:Entity; datePublished:datetime"},
	{"Collection", "Entity", "items:Entity*"},
	{"DigitalResourceCollection", "DigitalResource,Collection", "items:DigitalResource*"},
	{"LearningObjective", "Entity", ""},
	{"AggregateMeasure", "Entity", "metricValue:decimal!; maxMetricValue:decimal; metric:enum:metric!; " +
		"startedAtTime:datetime; endedAtTime:datetime"},
	{"AggregateMeasureCollection", "Collection", "items:AggregateMeasure*"},
	{"Annotation", "Entity", "annotator:Person; annotated:DigitalResource"},
	{"BookmarkAnnotation", "Annotation", "bookmarkNotes:string"},
	{"HighlightAnnotation", "Annotation", "selectionText:string; selection:TextPositionSelector"},
	{"SharedAnnotation", "Annotation", "withAgents:Agent*"},
	{"TagAnnotation", "Annotation", "tags:strings"},
	{"AssignableDigitalResource", "DigitalResource", "dateToActivate:datetime; dateToShow:datetime; " +
		"dateToStartOn:datetime; dateToSubmit:datetime; maxAttempts:integer; maxSubmits:integer; maxScore:decimal"},
	{"Assessment", "AssignableDigitalResource,DigitalResourceCollection", "items:AssessmentItem*"},
	{"AssessmentItem", "AssignableDigitalResource", "isTimeDependent:boolean"},
	{"Attempt", "Entity", "assignee:Person; assignable:DigitalResource; count:integer; duration:duration; " +
		"startedAtTime:datetime; endedAtTime:datetime; isPartOf:Attempt"},
	{"Response", "Entity", "attempt:Attempt; startedAtTime:datetime; endedAtTime:datetime; duration:duration"},
	{"DateTimeResponse", "Response", "dateTimeSelected:datetime"},
	{"FillinBlankResponse", "Response", "values:strings"},
	{"MultipleChoiceResponse", "Response", "value:string"},
	{"MultipleResponseResponse", "Response", "values:strings"},
	{"MultiselectResponse", "Response", "selections:strings"},
	{"OpenEndedResponse", "Response", "value:string"},
	{"RatingScaleResponse", "Response", "selections:strings"},
	{"SelectTextResponse", "Response", "values:strings"},
	{"TrueFalseResponse", "Response", "value:string"},
	{"Comment", "Entity", "commenter:Person; commentedOn:Entity; value:string"},
	{"Scale", "Entity", ""},
	{"LikertScale", "Scale", "scalePoints:integer; itemLabels:strings; itemValues:strings"},
	{"MultiselectScale", "Scale", "scalePoints:integer; itemLabels:strings; itemValues:strings; " +
		"isOrderedSelection:boolean; minSelections:integer; maxSelections:integer"},
	{"NumericScale", "Scale", "minLabel:string; maxLabel:string; minValue:decimal; maxValue:decimal; step:decimal"},
	{"Rating", "Entity", "rater:Person; rated:Entity; question:Question; selections:strings; ratingComment:Comment"},
	{"Forum", "DigitalResourceCollection", "items:Thread*"},
	{"Message", "DigitalResource", "body:string; attachments:DigitalResource*; replyTo:Message"},
	{"Thread", "DigitalResourceCollection", "items:Message*"},
	{"Result", "Entity", "attempt:Attempt; maxResultScore:decimal; resultScore:decimal; scoredBy:Agent; comment:string"},
	{"Link", "Entity", ""},
	{"LtiLink", "DigitalResource", "messageType:enum:ltiMessageType"},
	{"MediaObject", "DigitalResource", "duration:duration"},
	{"AudioObject", "MediaObject", "muted:boolean; volumeLevel:string; volumeMin:string; volumeMax:string"},
	{"ImageObject", "MediaObject", ""},
	{"VideoObject", "MediaObject", ""},
	{"MediaLocation", "DigitalResource", "currentTime:duration"},
	{"Document", "DigitalResource", ""},
	{"Chapter", "DigitalResource", ""},
	{"Page", "DigitalResource", ""},
	// Reading is deprecated since Caliper 1.1 but still a term of the 1.2 context.
	{"Reading", "DigitalResource", ""},
	{"WebPage", "DigitalResource", ""},
	{"Frame", "DigitalResource", "index:integer"},
	{"Score", "Entity", "attempt:Attempt; maxScore:decimal; scoreGiven:decimal; scoredBy:Agent; comment:string"},
	{"Query", "Entity", "creator:Person; searchTarget:Entity; searchTerms:string"},
	{"SearchResponse", "Entity", "searchProvider:SoftwareApplication; searchTarget:Entity; query:Query; " +
		"searchResultsItemCount:integer; searchResults:Entity*"},
	{"Session", "Entity", "user:Person; client:SoftwareApplication; startedAtTime:datetime; " +
		"endedAtTime:datetime; duration:duration"},
	{"LtiSession", "Session", "messageParameters:object"},
	{"Question", "DigitalResource", "questionPosed:string"},
	{"DateTimeQuestion", "Question", "minDateTime:datetime; maxDateTime:datetime; minLabel:string; maxLabel:string"},
	{"MultiselectQuestion", "Question", "itemLabels:strings; itemValues:strings; points:integer"},
	{"OpenEndedQuestion", "Question", ""},
	{"RatingScaleQuestion", "Question", "scale:Scale"},
	{"QuestionnaireItem", "DigitalResource", "question:Question; categories:strings; weight:decimal"},
	{"Questionnaire", "DigitalResourceCollection", "items:QuestionnaireItem*"},
	{"Survey", "Collection", "items:Questionnaire*"},
	{"SurveyInvitation", "DigitalResource", "rater:Person; survey:Survey; sentCount:integer; dateSent:datetime"},
	// SystemIdentifier and TextPositionSelector are not Entity subtypes:
	// they have a type but no required id.
	{"SystemIdentifier", "", "identifier:string!; identifierType:enum:systemIdentifierType!; " +
		"source:SoftwareApplication; extensions:object"},
	{"TextPositionSelector", "", "start:integer!; end:integer!"},

	// The TimebackProfile entities. Their rules beyond these types are in timeback.go.
	{"TimebackUser", "Person", "email:string!"},
	{"TimebackActivityContext", "Entity", "subject:string!; app:object!; course:object; activity:object"},
	{"TimebackActivityMetricsCollection", "Collection", "items:any!"},
	{"TimebackTimeSpentMetricsCollection", "Collection", "items:any!"},
}

// timebackEntityTypes are the entity types the TimebackProfile adds; they
// are not among the 73 of Caliper 1.2.
var timebackEntityTypes = map[string]bool{
	"TimebackUser": true, "TimebackActivityContext": true,
	"TimebackActivityMetricsCollection": true, "TimebackTimeSpentMetricsCollection": true,
}

// eventDef is one event type: the actions it allows and the classes its
// entity-valued properties must belong to.
type eventDef struct {
	name    string
	actions string // comma-separated; "*" is every action
	props   string // restrictions: "name:Class|Class", semicolon-separated
}

var eventDefs = []eventDef{
	{"Event", "*", ""},
	{"AnnotationEvent", "Bookmarked,Highlighted,Shared,Tagged",
		"actor:Person; object:DigitalResource; target:Frame; generated:Annotation"},
	{"AssessmentEvent", "Started,Paused,Resumed,Restarted,Reset,Submitted",
		"actor:Person; object:Assessment; generated:Attempt"},
	{"AssessmentItemEvent", "Started,Skipped,Completed",
		"actor:Person; object:AssessmentItem; generated:Response|Attempt; referrer:AssessmentItem"},
	{"AssignableEvent", "Activated,Deactivated,Started,Completed,Submitted,Reviewed",
		"actor:Person; object:AssignableDigitalResource; target:Frame; generated:Attempt"},
	{"FeedbackEvent", "Commented,Ranked", "actor:Person; object:Entity; target:Frame; generated:Rating|Comment"},
	{"ForumEvent", "Subscribed,Unsubscribed", "actor:Person; object:Forum"},
	{"GradeEvent", "Graded", "actor:Agent; object:Attempt; generated:Score"},
	{"MediaEvent", "Started,Ended,Paused,Resumed,Restarted,ForwardedTo,JumpedTo,ChangedResolution," +
		"ChangedSize,ChangedSpeed,ChangedVolume,EnabledClosedCaptioning,DisabledClosedCaptioning," +
		"EnabledCloseCaptioning,DisabledCloseCaptioning,EnteredFullScreen,ExitedFullScreen,Muted,Unmuted," +
		"OpenedPopout,ClosedPopout",
		"actor:Person; object:MediaObject; target:MediaLocation"},
	{"MessageEvent", "MarkedAsRead,MarkedAsUnread,MarkedAsUnRead,Posted", "actor:Person; object:Message"},
	{"NavigationEvent", "NavigatedTo", "actor:Person; object:DigitalResource|SoftwareApplication; " +
		"target:DigitalResource; referrer:DigitalResource|SoftwareApplication"},
	{"QuestionnaireEvent", "Started,Submitted", "actor:Person; object:Questionnaire"},
	{"QuestionnaireItemEvent", "Started,Skipped,Completed",
		"actor:Person; object:QuestionnaireItem; generated:Response"},
	{"ResourceManagementEvent", "Archived,Copied,Created,Deleted,Described,Downloaded,Modified,Printed," +
		"Published,Restored,Retrieved,Saved,Unpublished,Uploaded",
		"actor:Person; object:DigitalResource; generated:DigitalResource"},
	{"SearchEvent", "Searched", "actor:Person; object:Entity; generated:SearchResponse"},
	{"SessionEvent", "LoggedIn,LoggedOut,TimedOut", "actor:Person|SoftwareApplication; " +
		"object:Session|SoftwareApplication; target:DigitalResource; referrer:DigitalResource|SoftwareApplication"},
	{"SurveyEvent", "OptedIn,OptedOut", "actor:Person; object:Survey"},
	{"SurveyInvitationEvent", "Accepted,Declined,Sent", "actor:Person; object:SurveyInvitation"},
	{"ThreadEvent", "MarkedAsRead,MarkedAsUnread,MarkedAsUnRead", "actor:Person; object:Thread"},
	{"ToolLaunchEvent", "Launched,Returned", "actor:Person; object:SoftwareApplication; " +
		"generated:DigitalResource; target:Link|LtiLink"},
	{"ToolUseEvent", "Used", "actor:Person; object:SoftwareApplication; target:SoftwareApplication; " +
		"generated:AggregateMeasureCollection"},
	{"ViewEvent", "Viewed", "actor:Person; object:DigitalResource|Result"},

	// The two TimebackProfile events.
	{"ActivityEvent", "Completed", "actor:TimebackUser; object:TimebackActivityContext; " +
		"generated:TimebackActivityMetricsCollection"},
	{"TimeSpentEvent", "SpentTime", "actor:TimebackUser; object:TimebackActivityContext; " +
		"generated:TimebackTimeSpentMetricsCollection"},
}

// profileDefs lists the event types each profile allows. GeneralProfile also
// allows NavigationEvent, and SurveyProfile is accepted although the JSON-LD
// context lacks it, because conformance fixtures use both.
var profileDefs = []struct{ name, events string }{
	{"AnnotationProfile", "AnnotationEvent"},
	{"AssessmentProfile", "AssessmentEvent,AssessmentItemEvent,NavigationEvent,ViewEvent"},
	{"AssignableProfile", "AssignableEvent,NavigationEvent,ViewEvent"},
	{"FeedbackProfile", "FeedbackEvent"},
	{"ForumProfile", "ForumEvent,MessageEvent,ThreadEvent,NavigationEvent,ViewEvent"},
	{"GeneralProfile", "Event,NavigationEvent"},
	{"GradingProfile", "GradeEvent,ViewEvent"},
	{"MediaProfile", "MediaEvent,NavigationEvent,ViewEvent"},
	{"ReadingProfile", "NavigationEvent,ViewEvent"},
	{"ResourceManagementProfile", "ResourceManagementEvent"},
	{"SearchProfile", "SearchEvent"},
	{"SessionProfile", "SessionEvent"},
	{"SurveyProfile", "SurveyEvent,SurveyInvitationEvent,QuestionnaireEvent,QuestionnaireItemEvent," +
		"NavigationEvent,ViewEvent"},
	{"ToolLaunchProfile", "ToolLaunchEvent"},
	{"ToolUseProfile", "ToolUseEvent"},
	{"TimebackProfile", "ActivityEvent,TimeSpentEvent"},
}

// actionList is the 80 actions of Caliper 1.2, then the spellings the
// JSON-LD context or the event tables use instead.
const actionList = "Abandoned,Accepted,Activated,Added,Archived,Attached,Bookmarked,ChangedResolution," +
	"ChangedSize,ChangedSpeed,ChangedVolume,Classified,ClosedPopout,Commented,Completed,Copied,Created," +
	"Deactivated,Declined,Deleted,Described,DisabledClosedCaptioning,Disliked,Downloaded," +
	"EnabledClosedCaptioning,Ended,EnteredFullScreen,ExitedFullScreen,ForwardedTo,Graded,Hid,Highlighted," +
	"Identified,JumpedTo,Launched,Liked,Linked,LoggedIn,LoggedOut,MarkedAsRead,MarkedAsUnread,Modified," +
	"Muted,NavigatedTo,OpenedPopout,OptedIn,OptedOut,Paused,Posted,Printed,Published,Questioned,Ranked," +
	"Recommended,Removed,Reset,Restarted,Restored,Resumed,Retrieved,Returned,Reviewed,Rewound,Saved," +
	"Searched,Sent,Shared,Showed,Skipped,Started,Submitted,Subscribed,Tagged,TimedOut,Unmuted," +
	"Unpublished,Unsubscribed,Uploaded,Used,Viewed," +
	"EnabledCloseCaptioning,DisabledCloseCaptioning,MarkedAsUnRead,SpentTime"

// enumDefs are the closed term lists of Caliper 1.2.
var enumDefs = map[string]string{
	"metric": "AssessmentsPassed,AssessmentsSubmitted,MinutesOnTask,SkillsMastered,StandardsMastered," +
		"UnitsCompleted,UnitsPassed,WordsRead",
	"status": "Active,Inactive",
	"role": "Administrator,Administrator#Administrator,Administrator#Developer," +
		"Administrator#ExternalDeveloper,Administrator#ExternalSupport,Administrator#ExternalSystemAdministrator," +
		"Administrator#Support,Administrator#SystemAdministrator,ContentDeveloper," +
		"ContentDeveloper#ContentDeveloper,ContentDeveloper#ContentExpert,ContentDeveloper#ExternalContentExpert," +
		"ContentDeveloper#Librarian,Instructor,Instructor#ExternalInstructor,Instructor#Grader," +
		"Instructor#GuestInstructor,Instructor#Instructor,Instructor#Lecturer,Instructor#PrimaryInstructor," +
		"Instructor#SecondaryInstructor,Instructor#TeachingAssistant,Instructor#TeachingAssistantGroup," +
		"Instructor#TeachingAssistantOffering,Instructor#TeachingAssistantSection," +
		"Instructor#TeachingAssistantTemplate,Learner,Learner#ExternalLearner,Learner#GuestLearner," +
		"Learner#Learner,Learner#NonCreditLearner,Manager,Manager#AreaManager,Manager#CourseCoordinator," +
		"Manager#ExternalObserver,Manager#Manager,Manager#Observer,Member,Member#Member,Mentor,Mentor#Advisor," +
		"Mentor#ExternalAdvisor,Mentor#ExternalAuditor,Mentor#ExternalLearningFacilitator,Mentor#ExternalMentor," +
		"Mentor#ExternalReviewer,Mentor#ExternalTutor,Mentor#LearningFacilitator,Mentor#Mentor,Mentor#Reviewer," +
		"Mentor#Tutor,Officer,Officer#Chair,Officer#Secretary,Officer#Treasurer,Officer#Vice-Chair",
	// CaseItemUri is not in the information model but a valid fixture uses it.
	"systemIdentifierType": "AccountUserName,CaseItemUri,EmailAddress,LisSourcedId,LtiContextId,LtiDeploymentId," +
		"LtiToolId,LtiPlatformId,LtiUserId,OneRosterSourcedId,Other,SisSourcedId,SystemId",
	// The LTI 1.3 message types.
	"ltiMessageType": "LtiResourceLinkRequest,LtiDeepLinkingRequest,LtiDeepLinkingResponse," +
		"LtiSubmissionReviewRequest",
}

// valueType is the check a property's value gets.
type valueType uint8

const (
	typeString valueType = iota
	typeInteger
	typeDecimal
	typeBoolean
	typeDateTime
	typeDuration
	typeIRI
	typeObject
	typeAny
	typeEnum
	typeEntity
)

type property struct {
	name     string
	typ      valueType
	list     bool
	required bool
	enum     map[string]bool
	enumName string
	class    *class // for typeEntity
}

// class is an entity type or event type with every property it inherits.
type class struct {
	name      string
	isEntity  bool // an Entity subtype, so id is required
	isEvent   bool
	ancestors map[string]bool // itself included
	props     map[string]*property
	// Event types only.
	actions  map[string]bool
	restrict map[string][]*class
}

var (
	classes  = map[string]*class{}
	actions  = map[string]bool{}
	profiles = map[string]map[string]bool{}
	enums    = map[string]map[string]bool{}
	// terms maps each type, action and profile name to itself, so that a
	// Report can share these strings instead of copying them from the input.
	terms = map[string]string{}
)

func init() {
	for name, list := range enumDefs {
		enums[name] = set(list)
	}
	actions = set(actionList)
	for _, d := range entityDefs {
		classes[d.name] = &class{name: d.name, ancestors: map[string]bool{d.name: true},
			props: map[string]*property{}}
	}
	for _, d := range entityDefs {
		c := classes[d.name]
		for _, p := range split(d.parents, ",") {
			inherit(c, classes[p])
		}
		c.isEntity = c.ancestors["Entity"]
		for _, spec := range split(d.props, ";") {
			p := parseProperty(spec)
			c.props[p.name] = p
		}
	}
	// Subclasses defined before their parents' properties were filled miss
	// them, so inherit again until nothing changes.
	for changed := true; changed; {
		changed = false
		for _, d := range entityDefs {
			c := classes[d.name]
			for _, p := range split(d.parents, ",") {
				if inheritProps(c, classes[p]) {
					changed = true
				}
			}
		}
	}
	eventBase := eventProperties()
	for _, d := range eventDefs {
		c := &class{name: d.name, isEvent: true, ancestors: map[string]bool{d.name: true, "Event": true},
			props: eventBase, restrict: map[string][]*class{}}
		if d.actions == "*" {
			c.actions = actions
		} else {
			c.actions = set(d.actions)
		}
		for _, spec := range split(d.props, ";") {
			name, types, _ := strings.Cut(spec, ":")
			for _, t := range split(types, "|") {
				c.restrict[name] = append(c.restrict[name], mustClass(t))
			}
		}
		classes[d.name] = c
	}
	for _, p := range profileDefs {
		profiles[p.name] = set(p.events)
	}
	for name := range classes {
		terms[name] = name
	}
	for name := range actions {
		terms[name] = name
	}
	for name := range profiles {
		terms[name] = name
	}
}

func eventProperties() map[string]*property {
	props := map[string]*property{}
	for _, spec := range split("actor:Agent!; object:Entity!; eventTime:datetime!; edApp:SoftwareApplication; "+
		"generated:Entity; target:Entity; referrer:Entity; group:Organization; membership:Membership; "+
		"session:Session; federatedSession:LtiSession; extensions:object", ";") {
		p := parseProperty(spec)
		props[p.name] = p
	}
	return props
}

func inherit(c, parent *class) {
	for a := range parent.ancestors {
		c.ancestors[a] = true
	}
	inheritProps(c, parent)
}

// inheritProps copies the parent's properties that c does not redefine and
// reports whether it copied any.
func inheritProps(c, parent *class) bool {
	changed := false
	for a := range parent.ancestors {
		if !c.ancestors[a] {
			c.ancestors[a] = true
			changed = true
		}
	}
	for name, p := range parent.props {
		if _, ok := c.props[name]; !ok {
			c.props[name] = p
			changed = true
		}
	}
	return changed
}

func parseProperty(spec string) *property {
	name, typ, ok := strings.Cut(spec, ":")
	if !ok {
		panic("caliper: bad property spec " + spec)
	}
	p := &property{name: name}
	if strings.HasSuffix(typ, "!") {
		p.required = true
		typ = strings.TrimSuffix(typ, "!")
	}
	switch typ {
	case "string":
		p.typ = typeString
	case "strings":
		p.typ, p.list = typeString, true
	case "integer":
		p.typ = typeInteger
	case "decimal":
		p.typ = typeDecimal
	case "boolean":
		p.typ = typeBoolean
	case "datetime":
		p.typ = typeDateTime
	case "duration":
		p.typ = typeDuration
	case "iri":
		p.typ = typeIRI
	case "object":
		p.typ = typeObject
	case "any":
		p.typ = typeAny
	default:
		switch {
		case strings.HasPrefix(typ, "enum:"), strings.HasPrefix(typ, "enums:"):
			kind, name, _ := strings.Cut(typ, ":")
			p.typ, p.list, p.enumName, p.enum = typeEnum, kind == "enums", name, enums[name]
			if p.enum == nil {
				panic("caliper: unknown enum " + name)
			}
		case strings.HasSuffix(typ, "*"):
			p.typ, p.list, p.class = typeEntity, true, mustClass(strings.TrimSuffix(typ, "*"))
		default:
			p.typ, p.class = typeEntity, mustClass(typ)
		}
	}
	return p
}

func mustClass(name string) *class {
	c := classes[name]
	if c == nil {
		panic("caliper: unknown class " + name)
	}
	return c
}

func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, s := range split(list, ",") {
		m[s] = true
	}
	return m
}

func split(s, sep string) []string {
	var out []string
	for _, part := range strings.Split(s, sep) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// EntityTypes returns the 73 entity types of Caliper 1.2, without the
// TimebackProfile ones.
func EntityTypes() []string {
	var out []string
	for _, d := range entityDefs {
		if !timebackEntityTypes[d.name] {
			out = append(out, d.name)
		}
	}
	return out
}

// EventTypes returns the 22 event types of Caliper 1.2, without the
// TimebackProfile ones.
func EventTypes() []string {
	var out []string
	for _, d := range eventDefs {
		if d.name != "ActivityEvent" && d.name != "TimeSpentEvent" {
			out = append(out, d.name)
		}
	}
	return out
}
