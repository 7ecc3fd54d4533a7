package webui

import (
	"net/http"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// apiApplicationView is what the moderators' page shows of one application: every field, the
// conversation with the applicant, possible duplicates, the history as sentences (in the
// request's language, as the pages pick it), and the space once approved.
type apiApplicationView struct {
	Application apiApplication             `json:"application"`
	Messages    []apiApplicationMessage    `json:"messages"`
	Duplicates  []apiDuplicate             `json:"duplicates"`
	History     []apiHistoryLine           `json:"history"`
	Space       *tenants.Space             `json:"space"`
	SpaceURL    string                     `json:"space_url,omitempty"`
	Queue       *tenants.WaitingListStatus `json:"waiting_list,omitempty"`
}

// apiApplicationMessage is one message of the conversation: author is moderator or applicant;
// moderator names the moderator who wrote it, empty for an operator's.
type apiApplicationMessage struct {
	Author    string    `json:"author"`
	Moderator string    `json:"moderator,omitempty"`
	Body      string    `json:"body"`
	At        time.Time `json:"at"`
}

// apiDuplicate is another application that may be the same association's, and why.
type apiDuplicate struct {
	ID              int64                    `json:"id"`
	State           tenants.ApplicationState `json:"state"`
	AssociationName string                   `json:"association_name"`
	Slug            string                   `json:"slug"`
	SameLegalID     bool                     `json:"same_legal_id"`
	SameEmail       bool                     `json:"same_email"`
	SimilarName     bool                     `json:"similar_name"`
}

// apiHistoryLine is one audit entry: the raw actor and action for programs, the sentence the
// moderators' page shows for people.
type apiHistoryLine struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	Text   string    `json:"text"`
}

// apiApplicationShow is GET /api/v1/applications/{id}.
func (h *handler) apiApplicationShow(w http.ResponseWriter, r *http.Request) {
	a, ok := h.apiGetApplication(w, r)
	if !ok {
		return
	}
	v, err := h.apiApplicationView(r, a)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	h.apiJSON(w, r, http.StatusOK, v)
}

// apiApplicationView reads what the API shows of a: the answer of show and of every decision.
func (h *handler) apiApplicationView(r *http.Request, a tenants.Application) (apiApplicationView, error) {
	ctx := r.Context()
	v := apiApplicationView{Application: h.apiApplicationOf(a), Messages: []apiApplicationMessage{},
		Duplicates: []apiDuplicate{}, History: []apiHistoryLine{}}
	rec, err := h.applicationRecord(ctx, a)
	if err != nil {
		return v, err
	}
	v.Space, v.SpaceURL, v.Queue = rec.Space, rec.SpaceURL, rec.Queue
	names, err := h.actorNames(ctx, rec.Trail)
	if err != nil {
		return v, err
	}
	p := h.newPage(r)
	for _, e := range rec.Trail {
		v.History = append(v.History, apiHistoryLine{At: e.At, Action: e.Action, Actor: string(e.Actor), Text: p.auditLine(e, names).Text()})
	}
	msgs, err := tenants.ApplicationMessages(ctx, h.Pool, a.ID)
	if err != nil {
		return v, err
	}
	for _, m := range msgs {
		v.Messages = append(v.Messages, apiApplicationMessage{Author: m.Author, Moderator: names.moderators[m.ModeratorID],
			Body: m.Body, At: m.CreatedAt})
	}
	dups, err := tenants.PossibleDuplicates(ctx, h.Pool, a)
	if err != nil {
		return v, err
	}
	for _, d := range dups {
		v.Duplicates = append(v.Duplicates, apiDuplicate{ID: d.ID, State: d.State, AssociationName: d.AssociationName,
			Slug: d.Slug, SameLegalID: d.SameLegalID, SameEmail: d.SameEmail, SimilarName: d.SimilarName})
	}
	return v, nil
}
