package tenants

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CountedStates are the states that take room under the capacity ceiling: a space holds its
// place from the moment its provisioning starts until it is deleted (deleting: its job is
// stopped, so its place goes to the next one at once; a restore takes a place back even past the
// ceiling, an operator's decision). Queued spaces wait for room; failed ones give their place
// back (a retry queues them again at their place in approval order).
var CountedStates = []SpaceState{SpaceProvisioning, SpaceActive, SpaceSuspended}

// admissionLock serialises admissions, so that two workers cannot both take the last place.
const admissionLock = 7_420_031_400

func countedStates() []string {
	out := make([]string, len(CountedStates))
	for i, s := range CountedStates {
		out[i] = string(s)
	}
	return out
}

// SpacesInUse counts the spaces that take room under the capacity ceiling.
func SpacesInUse(ctx context.Context, db DB) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM spaces WHERE state = ANY($1)`, countedStates()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count spaces in use: %w", err)
	}
	return n, nil
}

// QueuePosition is a queued space's place in the approval-order queue, from 1 (next to start);
// 0 when the space is not queued.
func QueuePosition(ctx context.Context, db DB, spaceID int64) (int, error) {
	var pos int
	err := db.QueryRow(ctx, `SELECT CASE WHEN s.state = 'queued'
			THEN (SELECT count(*) FROM spaces q WHERE q.state = 'queued' AND q.id <= s.id) ELSE 0 END
		FROM spaces s WHERE s.id = $1`, spaceID).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("queue position of space %d: %w", spaceID, notFound(err))
	}
	return pos, nil
}

// WaitingListStatus is what an applicant's status page and an operator can say about a waiting space.
type WaitingListStatus struct {
	// Position is the space's place among queued spaces, from 1; 0 when it is not queued.
	Position int `json:"position"`
	// InUse counts spaces taking room; Capacity is the ceiling (0: none).
	InUse    int `json:"in_use"`
	Capacity int `json:"capacity"`
	// WaitingForRoom is true when the space waits because the ceiling is reached, rather than
	// for a worker to pick it up.
	WaitingForRoom bool `json:"waiting_for_room"`
}

// SpaceWaitingListStatus reads a space's place in the queue under capacity.
func SpaceWaitingListStatus(ctx context.Context, db DB, spaceID int64, capacity int) (WaitingListStatus, error) {
	pos, err := QueuePosition(ctx, db, spaceID)
	if err != nil {
		return WaitingListStatus{}, err
	}
	inUse, err := SpacesInUse(ctx, db)
	if err != nil {
		return WaitingListStatus{}, err
	}
	st := WaitingListStatus{Position: pos, InUse: inUse, Capacity: capacity}
	st.WaitingForRoom = pos > 0 && capacity > 0 && pos > capacity-inUse
	return st, nil
}

// Admission says whether a space may start provisioning now.
type Admission struct {
	Admitted bool
	WaitingListStatus
}

// AdmitSpace moves a queued space to provisioning when there is room under capacity (0: no
// ceiling) and every space approved before it has started: spaces start in approval order.
// A space already provisioning is returned as admitted; one in any other state is returned
// unchanged and not admitted. Admissions are serialised by an advisory lock.
func AdmitSpace(ctx context.Context, db DB, spaceID int64, capacity int, actor Actor) (Space, Admission, error) {
	var out Space
	var adm Admission
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, admissionLock); err != nil {
			return err
		}
		s, err := GetSpace(ctx, tx, spaceID)
		if err != nil {
			return err
		}
		out = s
		switch s.State {
		case SpaceProvisioning:
			adm.Admitted = true
			return nil
		case SpaceQueued:
		default:
			return nil
		}
		st, err := SpaceWaitingListStatus(ctx, tx, spaceID, capacity)
		if err != nil {
			return err
		}
		adm.WaitingListStatus = st
		if st.WaitingForRoom {
			return nil
		}
		out, err = TransitionSpace(ctx, tx, spaceID, Transition{To: SpaceProvisioning, Actor: actor,
			Action: "space.provision", From: []SpaceState{SpaceQueued}})
		if err != nil {
			return err
		}
		adm.Admitted = true
		adm.Position = 0
		adm.InUse++
		return nil
	})
	if err != nil {
		return Space{}, Admission{}, fmt.Errorf("admit space %d: %w", spaceID, err)
	}
	return out, adm, nil
}

// SpacesToStart lists, in approval order, the spaces that should have a provisioning job now:
// every space already provisioning (to resume one whose job was lost), then the queued spaces
// that fit in the room left under capacity (0: no ceiling). At most limit ids are returned.
func SpacesToStart(ctx context.Context, db DB, capacity, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.Query(ctx, `SELECT id FROM spaces WHERE state = 'provisioning' ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list spaces to start: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list spaces to start: %w", err)
	}
	room := limit - len(ids)
	if capacity > 0 {
		inUse, err := SpacesInUse(ctx, db)
		if err != nil {
			return nil, err
		}
		room = min(room, capacity-inUse)
	}
	if room <= 0 {
		return ids, nil
	}
	rows, err = db.Query(ctx, `SELECT id FROM spaces WHERE state = 'queued' ORDER BY id LIMIT $1`, room)
	if err != nil {
		return nil, fmt.Errorf("list spaces to start: %w", err)
	}
	queued, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list spaces to start: %w", err)
	}
	return append(ids, queued...), nil
}
