package standin

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// serveServerInfo is the serverinfo app's ApiController::info: allowed with the NC-Token header
// matching app config serverinfo/token, or an admin login; else HTTP 401 {"message":"Unauthorized"}.
func (s *Server) serveServerInfo(w http.ResponseWriter, r *http.Request, version int) {
	ctx := r.Context()
	authorized := false
	if tok := r.Header.Get("NC-Token"); tok != "" {
		stored, ok, err := s.store.appValue(ctx, "serverinfo", "token")
		if err != nil {
			writeOCS(w, r, version, s.internal(r, err), true)
			return
		}
		authorized = ok && stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(tok)) == 1
	}
	if !authorized {
		if u := s.authenticate(r); u != nil && isAdmin(u) {
			authorized = true
		}
	}
	if !authorized {
		writeOCS(w, r, version, ocsReply{Code: http.StatusUnauthorized, Data: obj{{"message", "Unauthorized"}}}, true)
		return
	}
	st, err := s.store.stats(ctx)
	if err != nil {
		writeOCS(w, r, version, s.internal(r, err), true)
		return
	}
	dbVersion, dbSize, err := s.store.database(ctx)
	if err != nil {
		writeOCS(w, r, version, s.internal(r, err), true)
		return
	}
	numFiles, homes := countFiles(s.dataDir)
	mem := meminfo()
	load := loadavg()
	data := obj{
		{"nextcloud", obj{
			{"system", obj{
				{"version", Version},
				{"theme", ""},
				{"enable_avatars", "yes"},
				{"enable_previews", "yes"},
				{"memcache.local", "none"},
				{"memcache.distributed", "none"},
				{"filelocking.enabled", "yes"},
				{"memcache.locking", "none"},
				{"debug", "no"},
				{"freespace", freeSpace(s.dataDir)},
				{"cpuload", list{phpFloat(load[0]), phpFloat(load[1]), phpFloat(load[2])}},
				{"cpunum", runtime.NumCPU()},
				{"mem_total", mem["MemTotal"]},
				{"mem_free", mem["MemAvailable"]},
				{"swap_total", mem["SwapTotal"]},
				{"swap_free", mem["SwapFree"]},
				{"apps", obj{{"num_installed", 1}, {"num_updates_available", 0}, {"app_updates", list{}}}},
				{"update", obj{{"lastupdatedat", 0}, {"available", false}}},
			}},
			{"storage", obj{
				{"num_users", st.LoggedIn},
				{"num_disabled_users", st.Disabled},
				{"num_files", numFiles},
				{"num_storages", homes},
				{"num_storages_local", 0},
				{"num_storages_home", homes},
				{"num_storages_other", 0},
				{"size_appdata_storage", 0},
				{"num_files_appdata", 0},
			}},
			{"shares", obj{
				{"num_shares", 0},
				{"num_shares_user", 0},
				{"num_shares_groups", 0},
				{"num_shares_link", 0},
				{"num_shares_mail", 0},
				{"num_shares_room", 0},
				{"num_shares_link_no_password", 0},
				{"num_fed_shares_sent", 0},
				{"num_fed_shares_received", 0},
				{"permissions_4_1", "0"},
			}},
		}},
		{"server", obj{
			{"webserver", "nextcloud-standin"},
			{"php", obj{
				{"version", runtime.Version()},
				{"memory_limit", 536870912},
				{"max_execution_time", 3600},
				{"upload_max_filesize", 535822336},
			}},
			{"database", obj{
				{"type", "pgsql"},
				{"version", dbVersion},
				{"size", dbSize},
			}},
		}},
		{"activeUsers", obj{
			{"last5minutes", st.Last5m},
			{"last1hour", st.Last1h},
			{"last24hours", st.Last24h},
			{"last7days", st.Last7d},
			{"last1month", st.Last1mo},
			{"last3months", st.Last3mo},
			{"last6months", st.Last6mo},
			{"lastyear", st.LastYear},
		}},
	}
	writeOCS(w, r, version, ocsReply{Code: 200, Data: data}, true)
}

// freeSpace is the free bytes of the data directory's filesystem.
func freeSpace(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -2 // FileInfo::SPACE_UNKNOWN
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// meminfo reads /proc/meminfo in bytes (current serverinfo reports bytes, not KiB).
func meminfo() map[string]int64 {
	out := map[string]int64{"MemTotal": -1, "MemAvailable": -1, "SwapTotal": -1, "SwapFree": -1}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if _, want := out[k]; !ok || !want {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[k] = n * 1024
		}
	}
	return out
}

func loadavg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(b)) {
		if i >= 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

// countFiles counts files under every user's files directory, and the homes.
func countFiles(dataDir string) (files, homes int) {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		home := filepath.Join(dataDir, e.Name(), "files")
		if info, err := os.Stat(home); err != nil || !info.IsDir() {
			continue
		}
		homes++
		_ = filepath.WalkDir(home, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files++
			}
			return nil
		})
	}
	return files, homes
}

// dirSize sums the sizes of the regular files under dir: Nextcloud's "used" for a home.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// removeUserDir deletes <dataDir>/<uid> and everything in it.
func removeUserDir(dataDir, uid string) error {
	if uid == "" || uid == "." || uid == ".." || strings.ContainsAny(uid, `/\`) {
		return errors.New("refusing to remove an unsafe user directory")
	}
	return os.RemoveAll(filepath.Join(dataDir, uid))
}
