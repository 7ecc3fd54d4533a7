// Package nomad is the one place the provisioner talks to Nomad: parsing and registering jobs,
// the space's Nomad Variable (its secrets), allocation status and native service discovery, with
// blocking queries for every wait. It wraps github.com/hashicorp/nomad/api behind a few methods
// whose errors are ours (ErrNotFound, ErrConflict, ErrInvalidJob), so that callers and their
// tests depend on a small surface.
package nomad

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Errors callers match with errors.Is.
var (
	// ErrNotFound: the job or variable does not exist.
	ErrNotFound = errors.New("nomad: not found")
	// ErrConflict: a check-and-set write lost against another writer.
	ErrConflict = errors.New("nomad: check-and-set conflict")
	// ErrInvalidJob: Nomad refused the jobspec itself (parse or validation), which no retry fixes.
	ErrInvalidJob = errors.New("nomad: invalid jobspec")
)

// Config names the Nomad cluster and the namespace space jobs live in.
type Config struct {
	Address   string
	Token     string
	Region    string
	Namespace string
	// CallTimeout bounds each call that is not a wait (DefaultCallTimeout when 0): a Nomad that
	// accepts the connection but never answers fails the call instead of holding its caller. A
	// blocking query is bounded by its own wait plus this; the event stream by its caller only.
	CallTimeout time.Duration
}

// DefaultCallTimeout bounds one plain call to Nomad: far above what a healthy agent takes, short
// enough that a pass or a status page does not hang on an agent that stopped answering.
const DefaultCallTimeout = 30 * time.Second

// defaultBlockingWait is the wait Nomad applies to a blocking query that names none.
const defaultBlockingWait = 5 * time.Minute

// Client is a Nomad API client scoped to one namespace. It is safe for concurrent use.
type Client struct {
	api       *api.Client
	namespace string
	region    string
	timeout   time.Duration
}

// New builds a client; it does not contact Nomad.
func New(cfg Config) (*Client, error) {
	c := api.DefaultConfig()
	if cfg.Address != "" {
		c.Address = cfg.Address
	}
	if cfg.Token != "" {
		c.SecretID = cfg.Token
	}
	c.Region = cfg.Region
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	c.Namespace = cfg.Namespace
	if strings.HasPrefix(c.Address, "http") {
		hc, err := pooledHTTPClient(c.TLSConfig)
		if err != nil {
			return nil, fmt.Errorf("nomad client: %w", err)
		}
		c.HttpClient = hc
	}
	a, err := api.NewClient(c)
	if err != nil {
		return nil, fmt.Errorf("nomad client: %w", err)
	}
	timeout := cfg.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &Client{api: a, namespace: cfg.Namespace, region: cfg.Region, timeout: timeout}, nil
}

// maxConns bounds this process's connections to Nomad. A burst of provisioning passes then waits
// here for a connection, instead of going past Nomad's limit of concurrent connections from one
// address (http_max_conns_per_client, 100 by default, answered 429); and the connections stay
// open for reuse rather than being dialled again for each call, as the api package's default pool
// of GOMAXPROCS+1 idle connections would have it.
const maxConns = 32

func pooledHTTPClient(tlsConfig *api.TLSConfig) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = maxConns
	t.MaxIdleConnsPerHost = maxConns
	t.ForceAttemptHTTP2 = false // as the api package: its streaming endpoints want HTTP/1
	hc := &http.Client{Transport: t}
	if err := api.ConfigureTLS(hc, tlsConfig); err != nil {
		return nil, err
	}
	return hc, nil
}

// API exposes the underlying client, for tests and benchmarks that compare with raw calls.
func (c *Client) API() *api.Client { return c.api }

// Namespace is the namespace jobs are registered in.
func (c *Client) Namespace() string { return c.namespace }

// call bounds one plain call by the client's call timeout.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// blocking bounds a blocking query: Nomad answers within its wait plus up to a sixteenth of it
// (its jitter), so the call timeout on top only covers an agent that stopped answering. A query
// with no index to wait on is a plain call.
func (c *Client) blocking(ctx context.Context, waitIndex uint64, wait time.Duration) (context.Context, context.CancelFunc) {
	if waitIndex == 0 {
		return c.call(ctx)
	}
	if wait <= 0 {
		wait = defaultBlockingWait
	}
	return context.WithTimeout(ctx, wait+wait/16+c.timeout)
}

func (c *Client) q(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Namespace: c.namespace, Region: c.region}).WithContext(ctx)
}

func (c *Client) w(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{Namespace: c.namespace, Region: c.region}).WithContext(ctx)
}

// VariablePath is where the job with id jobID reads its variable implicitly, without a policy.
func VariablePath(jobID string) string { return "nomad/jobs/" + jobID }

// Variable is a Nomad Variable's items and the index a check-and-set write must name.
type Variable struct {
	Path        string
	Items       map[string]string
	ModifyIndex uint64
}

// GetVariable reads the variable at path; ErrNotFound when there is none.
func (c *Client) GetVariable(ctx context.Context, path string) (Variable, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	v, _, err := c.api.Variables().Peek(path, c.q(ctx))
	if err != nil {
		return Variable{}, fmt.Errorf("read nomad variable %s: %w", path, err)
	}
	if v == nil {
		return Variable{}, fmt.Errorf("read nomad variable %s: %w", path, ErrNotFound)
	}
	return Variable{Path: v.Path, Items: v.Items, ModifyIndex: v.ModifyIndex}, nil
}

// CreateVariable writes items at path only if no variable is there (check-and-set with index 0).
// When one is, it fails with ErrConflict: the caller reads and uses the one that won.
func (c *Client) CreateVariable(ctx context.Context, path string, items map[string]string) (Variable, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	v, _, err := c.api.Variables().CheckedCreate(&api.Variable{Namespace: c.namespace, Path: path, Items: items}, c.w(ctx))
	if err != nil {
		var cas api.ErrCASConflict
		if errors.As(err, &cas) {
			return Variable{}, fmt.Errorf("create nomad variable %s: %w", path, ErrConflict)
		}
		return Variable{}, fmt.Errorf("create nomad variable %s: %w", path, err)
	}
	return Variable{Path: v.Path, Items: v.Items, ModifyIndex: v.ModifyIndex}, nil
}

// UpdateVariable replaces the items at path if the variable is still at v.ModifyIndex.
func (c *Client) UpdateVariable(ctx context.Context, v Variable) (Variable, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	out, _, err := c.api.Variables().CheckedUpdate(&api.Variable{Namespace: c.namespace, Path: v.Path, Items: v.Items,
		ModifyIndex: v.ModifyIndex}, c.w(ctx))
	if err != nil {
		var cas api.ErrCASConflict
		if errors.As(err, &cas) {
			return Variable{}, fmt.Errorf("update nomad variable %s: %w", v.Path, ErrConflict)
		}
		return Variable{}, fmt.Errorf("update nomad variable %s: %w", v.Path, err)
	}
	return Variable{Path: out.Path, Items: out.Items, ModifyIndex: out.ModifyIndex}, nil
}

// DeleteVariable removes the variable at path; deleting a missing one succeeds.
func (c *Client) DeleteVariable(ctx context.Context, path string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	if _, err := c.api.Variables().Delete(path, c.w(ctx)); err != nil {
		return fmt.Errorf("delete nomad variable %s: %w", path, err)
	}
	return nil
}

// Nodes lists the client nodes with their resources and what their operators reserved.
func (c *Client) Nodes(ctx context.Context) ([]*api.NodeListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	q := c.q(ctx)
	q.Params = map[string]string{"resources": "true"}
	nodes, _, err := c.api.Nodes().List(q)
	if err != nil {
		return nil, fmt.Errorf("list nomad nodes: %w", err)
	}
	return nodes, nil
}

// ParseJob has the agent parse HCL into a job. A jobspec Nomad refuses is ErrInvalidJob.
func (c *Client) ParseJob(ctx context.Context, hcl string) (*api.Job, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	// Jobs().ParseHCL takes no context: the same request, sent with one, ends with the call.
	var job api.Job
	req := &api.JobsParseRequest{JobHCL: hcl, Canonicalize: true}
	if _, err := c.api.Raw().Write("/v1/jobs/parse", req, &job, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		if isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusInternalServerError) && isParseMessage(err) {
			return nil, fmt.Errorf("parse jobspec: %w: %v", ErrInvalidJob, err)
		}
		return nil, fmt.Errorf("parse jobspec: %w", err)
	}
	return &job, nil
}

// RegisterJob submits job; Nomad keeps one job per id, so registering again updates it (and an
// unchanged spec makes no new version). It returns the job's modify index.
func (c *Client) RegisterJob(ctx context.Context, job *api.Job) (uint64, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	job.Namespace = &c.namespace
	resp, _, err := c.api.Jobs().Register(job, c.w(ctx))
	if err != nil {
		if isStatus(err, http.StatusBadRequest) {
			return 0, fmt.Errorf("register job %s: %w: %v", *job.ID, ErrInvalidJob, err)
		}
		return 0, fmt.Errorf("register job %s: %w", *job.ID, err)
	}
	return resp.JobModifyIndex, nil
}

// Job reads a job; ErrNotFound when Nomad has none with that id (a purged job).
func (c *Client) Job(ctx context.Context, jobID string) (*api.Job, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	job, _, err := c.api.Jobs().Info(jobID, c.q(ctx))
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, fmt.Errorf("read job %s: %w", jobID, ErrNotFound)
		}
		return nil, fmt.Errorf("read job %s: %w", jobID, err)
	}
	return job, nil
}

// Allocations lists a job's allocations, blocking until Nomad's index passes waitIndex or wait
// elapses (waitIndex 0 answers at once). It returns the index to wait on next.
func (c *Client) Allocations(ctx context.Context, jobID string, waitIndex uint64, wait time.Duration) ([]*api.AllocationListStub, uint64, error) {
	ctx, cancel := c.blocking(ctx, waitIndex, wait)
	defer cancel()
	q := c.q(ctx)
	q.WaitIndex, q.WaitTime = waitIndex, wait
	allocs, meta, err := c.api.Jobs().Allocations(jobID, false, q)
	if err != nil {
		return nil, waitIndex, fmt.Errorf("list allocations of job %s: %w", jobID, err)
	}
	return allocs, meta.LastIndex, nil
}

// Services lists the registrations of a Nomad-native service, blocking like Allocations.
func (c *Client) Services(ctx context.Context, name string, waitIndex uint64, wait time.Duration) ([]*api.ServiceRegistration, uint64, error) {
	ctx, cancel := c.blocking(ctx, waitIndex, wait)
	defer cancel()
	q := c.q(ctx)
	q.WaitIndex, q.WaitTime = waitIndex, wait
	regs, meta, err := c.api.Services().Get(name, q)
	if err != nil {
		return nil, waitIndex, fmt.Errorf("read service %s: %w", name, err)
	}
	return regs, meta.LastIndex, nil
}

// ListJobs lists the jobs whose id starts with prefix, with their meta and summary, in one call.
func (c *Client) ListJobs(ctx context.Context, prefix string) ([]*api.JobListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	q := c.q(ctx)
	q.Prefix = prefix
	q.Params = map[string]string{"meta": "true"}
	jobs, _, err := c.api.Jobs().List(q)
	if err != nil {
		return nil, fmt.Errorf("list nomad jobs: %w", err)
	}
	return jobs, nil
}

// ListAllocations lists, in one call, the allocations of the jobs whose id starts with
// jobPrefix, with their allocated ports (resources) but without their task events.
func (c *Client) ListAllocations(ctx context.Context, jobPrefix string) ([]*api.AllocationListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	q := c.q(ctx)
	q.Filter = fmt.Sprintf("JobID matches %q", "^"+regexp.QuoteMeta(jobPrefix))
	q.Params = map[string]string{"resources": "true", "task_states": "false"}
	allocs, _, err := c.api.Allocations().List(q)
	if err != nil {
		return nil, fmt.Errorf("list nomad allocations: %w", err)
	}
	return allocs, nil
}

// DeregisterJob stops a job, and with purge forgets it; a missing job is not an error.
func (c *Client) DeregisterJob(ctx context.Context, jobID string, purge bool) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	if _, _, err := c.api.Jobs().Deregister(jobID, purge, c.w(ctx)); err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("deregister job %s: %w", jobID, err)
	}
	return nil
}

func isStatus(err error, code int) bool {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode() == code
	}
	return false
}

func isParseMessage(err error) bool {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) {
		for _, m := range []string{"Argument or block definition required", "Unsupported argument",
			"Missing", "Invalid", "Unsupported block", "error parsing", "Unclosed"} {
			if strings.Contains(ue.Body(), m) {
				return true
			}
		}
	}
	return false
}

// JobChanges follows Nomad's event stream (topics Job, Allocation and Service) and sends the id
// of each job that is registered, stopped or purged, or whose allocations or service
// registrations change. The channel is closed when the
// stream ends (ctx ended, or Nomad went away): the caller reconnects and re-reads what it waits on.
func (c *Client) JobChanges(ctx context.Context) (<-chan string, error) {
	topics := map[api.Topic][]string{api.TopicJob: {"*"}, api.TopicAllocation: {"*"}, api.TopicService: {"*"}}
	events, err := c.api.EventStream().Stream(ctx, topics, 0, c.q(ctx))
	if err != nil {
		return nil, fmt.Errorf("follow nomad events: %w", err)
	}
	out := make(chan string, 256)
	go func() {
		defer close(out)
		for batch := range events {
			if batch.Err != nil {
				return
			}
			if batch.IsHeartbeat() {
				continue
			}
			for i := range batch.Events {
				e := &batch.Events[i]
				var jobID string
				switch e.Topic {
				case api.TopicJob:
					jobID = e.Key
				case api.TopicAllocation:
					if a, err := e.Allocation(); err == nil && a != nil {
						jobID = a.JobID
					}
				case api.TopicService:
					if s, err := e.Service(); err == nil && s != nil {
						jobID = s.JobID
					}
				}
				if jobID == "" {
					continue
				}
				select {
				case out <- jobID:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Exec runs command in task of a running allocation, without a terminal, and streams its
// standard output to stdout and its standard error to stderr until it exits; it returns the
// command's exit code. It works for every driver that can exec (docker, exec, raw_exec): the
// command runs where the task runs, with the task's environment. No call timeout applies, since
// a command may stream for hours: ctx bounds it, and ending ctx ends the command. A write to
// stdout or stderr that fails ends the command too, with that error. The command's standard
// input is empty.
//
// The command runs under /bin/sh, which waits a second after it exits before exiting with its
// code: Nomad may close the exec stream as soon as the process ends, before the last of a long
// output has reached the caller (hashicorp/nomad#27146, open: "alloc exec output cutoff", whose
// workaround is this wait; seen here as a reset connection 2 MB before the end of a 64 MB stream).
func (c *Client) Exec(ctx context.Context, alloc *api.AllocationListStub, task string, command []string, stdout, stderr io.Writer) (int, error) {
	command = append([]string{"/bin/sh", "-c", `"$@"; code=$?; sleep 1; exit $code`, "sh"}, command...)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The api package drops the errors of these writes: they are kept here, and end the command.
	out := &execWriter{w: stdout, cancel: cancel}
	errOut := &execWriter{w: stderr, cancel: cancel}
	a := &api.Allocation{ID: alloc.ID, NodeID: alloc.NodeID, TaskGroup: alloc.TaskGroup, JobID: alloc.JobID,
		Namespace: alloc.Namespace}
	code, err := c.api.Allocations().Exec(ctx, a, task, false, command, strings.NewReader(""), out, errOut, nil, c.q(ctx))
	if werr := errors.Join(out.failed(), errOut.failed()); werr != nil {
		return -1, fmt.Errorf("exec in allocation %s: %w", alloc.ID, werr)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		return -1, fmt.Errorf("exec in allocation %s: %w", alloc.ID, err)
	}
	return code, nil
}

// execWriter passes an exec's output on and remembers the first write that failed, cancelling
// the exec with it. Only the api package's receiving goroutine writes.
type execWriter struct {
	w      io.Writer
	cancel context.CancelCauseFunc
	err    atomic.Pointer[error]
}

func (e *execWriter) Write(p []byte) (int, error) {
	if err := e.failed(); err != nil {
		return 0, err
	}
	n, err := e.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		e.err.CompareAndSwap(nil, &err)
		e.cancel(err)
	}
	return n, err
}

func (e *execWriter) failed() error {
	if p := e.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Dynamic host volumes: each space's data volume, created on a client by a host volume plugin
// and mounted by the space's job by name. The calls below are plain calls (bounded by the call
// timeout) except HostVolume, a blocking query like Allocations.

// ErrVolumeInUse: Nomad refuses to delete a host volume that allocations still claim (those of
// a job just stopped or purged, until their tasks have exited).
var ErrVolumeInUse = errors.New("nomad: host volume in use")

// HostVolumes lists the dynamic host volumes named name in the client's namespace. Nomad lists
// by prefix: only the exact name is kept.
func (c *Client) HostVolumes(ctx context.Context, name string) ([]*api.HostVolumeStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	q := c.q(ctx)
	q.Prefix = name
	vols, _, err := c.api.HostVolumes().List(nil, q)
	if err != nil {
		return nil, fmt.Errorf("list host volumes %s: %w", name, err)
	}
	out := vols[:0]
	for _, v := range vols {
		if v.Name == name {
			out = append(out, v)
		}
	}
	return out, nil
}

// HostVolume reads a dynamic host volume with its host path and the allocations claiming it,
// blocking until Nomad's index passes waitIndex or wait elapses (waitIndex 0 answers at once);
// ErrNotFound when there is none. It returns the index to wait on next.
func (c *Client) HostVolume(ctx context.Context, id string, waitIndex uint64, wait time.Duration) (*api.HostVolume, uint64, error) {
	ctx, cancel := c.blocking(ctx, waitIndex, wait)
	defer cancel()
	q := c.q(ctx)
	q.WaitIndex, q.WaitTime = waitIndex, wait
	vol, meta, err := c.api.HostVolumes().Get(id, q)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, waitIndex, fmt.Errorf("read host volume %s: %w", id, ErrNotFound)
		}
		return nil, waitIndex, fmt.Errorf("read host volume %s: %w", id, err)
	}
	if vol == nil {
		return nil, waitIndex, fmt.Errorf("read host volume %s: %w", id, ErrNotFound)
	}
	return vol, meta.LastIndex, nil
}

// CreateHostVolume has Nomad place vol on a client whose plugin vol.PluginID creates it, and
// returns it as registered (state pending until the client reports it, then ready). Nomad puts
// at most one volume of a name on a node, but two on two nodes if asked twice: callers look
// for the volume first.
func (c *Client) CreateHostVolume(ctx context.Context, vol *api.HostVolume) (*api.HostVolume, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	v := *vol
	v.Namespace = c.namespace
	resp, _, err := c.api.HostVolumes().Create(&api.HostVolumeCreateRequest{Volume: &v}, c.w(ctx))
	if err != nil {
		return nil, fmt.Errorf("create host volume %s: %w", vol.Name, err)
	}
	if resp == nil || resp.Volume == nil {
		return nil, fmt.Errorf("create host volume %s: Nomad answered no volume", vol.Name)
	}
	return resp.Volume, nil
}

// DeleteHostVolume has the volume's plugin delete it (its data with it) and forgets it; a
// missing volume is not an error. A volume still claimed by allocations is ErrVolumeInUse.
func (c *Client) DeleteHostVolume(ctx context.Context, id string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	if _, _, err := c.api.HostVolumes().Delete(&api.HostVolumeDeleteRequest{ID: id}, c.w(ctx)); err != nil {
		var ue api.UnexpectedResponseError
		switch {
		case isStatus(err, http.StatusNotFound), errors.As(err, &ue) && strings.Contains(ue.Body(), "no such volume"):
			return nil
		case errors.As(err, &ue) && strings.Contains(ue.Body(), "in use by allocations"):
			return fmt.Errorf("delete host volume %s: %w: %v", id, ErrVolumeInUse, err)
		}
		return fmt.Errorf("delete host volume %s: %w", id, err)
	}
	return nil
}
