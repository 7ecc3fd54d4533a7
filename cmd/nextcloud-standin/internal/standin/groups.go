package standin

import (
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Groups and sub-admins as provisioning_api's GroupsController and UsersController answer them
// (apps/provisioning_api/lib/Controller/GroupsController.php, UsersController.php).

// getGroups is GroupsController::getGroups: any account may list the groups.
func (s *Server) getGroups(r *http.Request, _ *User, _ []string) ocsReply {
	p := readParams(r)
	groups, err := s.store.groups(r.Context(), p.get("search"), p.int("limit", 0), p.int("offset", 0))
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: obj{{"groups", stringList(groups)}}}
}

// addGroup is GroupsController::addGroup: 101 without an id, 102 when it exists.
func (s *Server) addGroup(r *http.Request, _ *User, _ []string) ocsReply {
	p := readParams(r)
	gid := p.get("groupid")
	if gid == "" || gid == "0" { // PHP's empty() is true for "0" as well
		return ocsReply{Code: 101, Message: "Invalid group name"}
	}
	created, err := s.store.createGroup(r.Context(), gid, p.get("displayname"))
	if err != nil {
		return s.internal(r, err)
	}
	if !created {
		return ocsReply{Code: 102, Message: "group exists"}
	}
	return ocsReply{Code: 200}
}

// getGroupUsers is GroupsController::getGroupUsers as Nextcloud 31 has it: admins and the group's
// sub-admins see its members; anyone else gets 403 with no message (later versions also let
// members see them).
func (s *Server) getGroupUsers(r *http.Request, me *User, args []string) ocsReply {
	gid := args[0]
	ok, err := s.store.groupExists(r.Context(), gid)
	if err != nil {
		return s.internal(r, err)
	}
	if !ok {
		return ocsReply{Code: http.StatusNotFound, Message: "The requested group could not be found"}
	}
	if !isAdmin(me) && !slices.Contains(me.Subadmin, gid) {
		return ocsReply{Code: http.StatusForbidden}
	}
	users, err := s.store.groupMembers(r.Context(), gid)
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: obj{{"users", stringList(users)}}}
}

// getSubAdminsOfGroup is GroupsController::getSubAdminsOfGroup: a bare list of user ids.
func (s *Server) getSubAdminsOfGroup(r *http.Request, _ *User, args []string) ocsReply {
	ok, err := s.store.groupExists(r.Context(), args[0])
	if err != nil {
		return s.internal(r, err)
	}
	if !ok {
		return ocsReply{Code: 101, Message: "Group does not exist"}
	}
	uids, err := s.store.groupSubAdmins(r.Context(), args[0])
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: stringList(uids)}
}

// getUsersGroups is UsersController::getUsersGroups: oneself and admins see every group; a
// sub-admin sees the groups they administer among the account's. PHP's array_intersect keeps the
// keys of getSubAdminsGroups, which are group ids, so that list comes out as an object.
func (s *Server) getUsersGroups(r *http.Request, me *User, args []string) ocsReply {
	target, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}
	}
	if err != nil {
		return s.internal(r, err)
	}
	if target.ID == me.ID || isAdmin(me) {
		return ocsReply{Code: 200, Data: obj{{"groups", stringList(target.Groups)}}}
	}
	if !accessible(me, target) {
		return ocsReply{Code: 998}
	}
	var shared obj
	for _, g := range me.Subadmin {
		if slices.Contains(target.Groups, g) {
			shared = append(shared, field{g, g})
		}
	}
	return ocsReply{Code: 200, Data: obj{{"groups", shared}}}
}

// groupAndUser loads the group and account an add/remove call names, answering 101 for no group
// id, 102 for a missing group, 103 for a missing account (UsersController::addToGroup).
func (s *Server) groupAndUser(r *http.Request, uid, gid string) (*User, *ocsReply) {
	if strings.TrimSpace(gid) == "" {
		return nil, &ocsReply{Code: 101}
	}
	ok, err := s.store.groupExists(r.Context(), gid)
	if err != nil {
		rep := s.internal(r, err)
		return nil, &rep
	}
	if !ok {
		return nil, &ocsReply{Code: 102}
	}
	target, err := s.store.user(r.Context(), uid)
	if errors.Is(err, ErrNotFound) {
		return nil, &ocsReply{Code: 103}
	}
	if err != nil {
		rep := s.internal(r, err)
		return nil, &rep
	}
	return target, nil
}

// addToGroup is UsersController::addToGroup: admins add to any group, sub-admins to the groups
// they administer (104 otherwise), whoever the account is.
func (s *Server) addToGroup(r *http.Request, me *User, args []string) ocsReply {
	gid := readParams(r).get("groupid")
	target, rep := s.groupAndUser(r, args[0], gid)
	if rep != nil {
		return *rep
	}
	if !isAdmin(me) && !slices.Contains(me.Subadmin, gid) {
		return ocsReply{Code: 104}
	}
	if err := s.store.setMembership(r.Context(), "oc_group_user", gid, target.ID, true); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// removeFromGroup is UsersController::removeFromGroup: as addToGroup, and 105 when an admin would
// leave group admin, a sub-admin would leave a group, or a sub-admin would take an account out of
// the last group of theirs it is in.
func (s *Server) removeFromGroup(r *http.Request, me *User, args []string) ocsReply {
	gid := readParams(r).get("groupid")
	target, rep := s.groupAndUser(r, args[0], gid)
	if rep != nil {
		return *rep
	}
	admin := isAdmin(me)
	if !admin && !slices.Contains(me.Subadmin, gid) {
		return ocsReply{Code: 104}
	}
	switch {
	case target.ID == me.ID && admin && gid == "admin":
		return ocsReply{Code: 105, Message: "Cannot remove yourself from the admin group"}
	case target.ID == me.ID && !admin:
		return ocsReply{Code: 105, Message: "Cannot remove yourself from this group as you are a sub-admin"}
	case target.ID != me.ID && !admin:
		shared := 0
		for _, g := range me.Subadmin {
			if slices.Contains(target.Groups, g) {
				shared++
			}
		}
		if shared <= 1 {
			return ocsReply{Code: 105, Message: "Not viable to remove user from the last group you are sub-admin of"}
		}
	}
	if err := s.store.setMembership(r.Context(), "oc_group_user", gid, target.ID, false); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// addSubAdmin is UsersController::addSubAdmin: 101 missing account, 102 missing group, 103 group
// admin; making a sub-admin twice is no error.
func (s *Server) addSubAdmin(r *http.Request, _ *User, args []string) ocsReply {
	gid := readParams(r).get("groupid")
	target, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 101, Message: "User does not exist"}
	}
	if err != nil {
		return s.internal(r, err)
	}
	ok, err := s.store.groupExists(r.Context(), gid)
	if err != nil {
		return s.internal(r, err)
	}
	if !ok {
		return ocsReply{Code: 102, Message: "Group does not exist"}
	}
	if gid == "admin" {
		return ocsReply{Code: 103, Message: "Cannot create sub-admins for admin group"}
	}
	if err := s.store.setMembership(r.Context(), "oc_group_admin", gid, target.ID, true); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// removeSubAdmin is UsersController::removeSubAdmin: 101 missing account or group, 102 when the
// account is no sub-admin of that group.
func (s *Server) removeSubAdmin(r *http.Request, _ *User, args []string) ocsReply {
	gid := readParams(r).get("groupid")
	target, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 101, Message: "User does not exist"}
	}
	if err != nil {
		return s.internal(r, err)
	}
	ok, err := s.store.groupExists(r.Context(), gid)
	if err != nil {
		return s.internal(r, err)
	}
	if !ok {
		return ocsReply{Code: 101, Message: "Group does not exist"}
	}
	if !slices.Contains(target.Subadmin, gid) {
		return ocsReply{Code: 102, Message: "User is not a sub-admin of this group"}
	}
	if err := s.store.setMembership(r.Context(), "oc_group_admin", gid, target.ID, false); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// getUserSubAdminGroups is UsersController::getUserSubAdminGroups: a bare list of group ids; a
// missing account is 404 "User does not exist" (AUserDataOCSController::getUserSubAdminGroupsData).
func (s *Server) getUserSubAdminGroups(r *http.Request, _ *User, args []string) ocsReply {
	target, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: http.StatusNotFound, Message: "User does not exist"}
	}
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: stringList(target.Subadmin)}
}
