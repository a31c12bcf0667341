//go:build linux

package cluster

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The Beam model's transforms through which a bundle's data enters and
// leaves an SDK harness; their payload is a RemoteGrpcPort naming the data
// service.
const (
	urnDataSource = "beam:runner:source:v1"
	urnDataSink   = "beam:runner:sink:v1"
)

// A router stands between prism and the worker processes of one job, as a
// distributed runner's worker manager does: prism sees the one worker it
// asked the pool for (one control stream and one data stream, under the
// worker id it gave), while each bundle runs in one of several SDK harness
// processes that share nothing but storage.
//
// Each process has an endpoint of its own on the router (control, data,
// state, logging and provisioning), so the router knows which process
// every stream comes from; the provision info and the bundle descriptors
// the processes fetch through it are rewritten to point at that endpoint.
//
//   - Control: a ProcessBundle goes to the live process with the fewest
//     bundles in progress (round robin among equals); the owner of a bundle
//     is fixed on first sight of its instruction id, on the control or the
//     data stream, whichever comes first. Progress, split and finalize
//     requests go to the owner of the bundle they name. Monitoring short ids
//     in responses get a prefix naming the process ("p1:7"), and
//     MonitoringInfos requests are split by prefix, sent to each process
//     with the prefix removed, and the answers merged. Register and
//     HarnessMonitoringInfos go to every process, anything else to the
//     first live one.
//   - Data: elements and timers from prism go to the process owning their
//     instruction; what the processes send goes up the one stream.
//   - State and logging: each process stream has its own stream to prism
//     (prism answers state requests on the stream they came on).
//
// A process that dies (its control stream breaks, or its boot program
// exits) fails every instruction it was sent and has not answered, so
// prism fails the job as it does when its single worker dies; data for its
// bundles is dropped.
type router struct {
	workerID string
	conn     *grpc.ClientConn // prism's worker endpoint
	// ctx carries the worker id to prism; cancelled by close.
	ctx    context.Context
	cancel context.CancelFunc
	procs  []*routedProc
	log    io.Writer

	toPrism chan *fnpb.InstructionResponse // the control stream's responses
	dataUp  chan *fnpb.Elements            // the data stream's elements
	upDone  chan struct{}                  // closed when prism ends the control stream

	mu      sync.Mutex
	started bool
	owner   map[string]int     // bundle instruction id → process
	stage   map[string]string  // bundle instruction id → its descriptor
	pending map[string]int     // instruction sent to a process and not answered → process
	fanouts map[string]*fanout // part of a request sent to several processes → the whole
	next    int
	created time.Time
	stats   JobStats
}

// routedProc is one worker process behind a router.
type routedProc struct {
	index int
	url   string // the router's endpoint for this process
	srv   *grpc.Server
	reqs  chan *fnpb.InstructionRequest
	data  chan *fnpb.Elements
	dead  chan struct{}

	// Guarded by router.mu.
	controlOpen bool
	active      map[string]time.Time // bundles in progress → when assigned
}

// fanout is a control request sent in parts to several processes.
type fanout struct {
	id    string
	parts int
	got   []*fnpb.InstructionResponse
}

// JobStats is what the bundle router saw of one job's worker processes.
type JobStats struct {
	// Bundles counts the bundles each worker process completed, by process
	// (in the order the pool started them).
	Bundles []int
	// Stages counts them by bundle descriptor (one of prism's fused
	// stages), then by process.
	Stages map[string][]int
	// Startup is the time from the runner's request for the worker until
	// every process had connected (boot fetching the worker binary from
	// the job server, copying and starting it).
	Startup time.Duration
}

// newRouter starts a router for the worker workerID of prism's worker
// endpoint prismURL, with an endpoint for each of n worker processes.
func newRouter(workerID, prismURL string, n int, log io.Writer) (*router, error) {
	conn, err := grpc.NewClient(prismURL,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))
	if err != nil {
		return nil, fmt.Errorf("router: dial prism at %s: %w", prismURL, err)
	}
	ctx, cancel := context.WithCancel(grpcx.WriteWorkerID(context.Background(), workerID))
	r := &router{
		workerID: workerID,
		conn:     conn,
		ctx:      ctx,
		cancel:   cancel,
		log:      log,
		toPrism:  make(chan *fnpb.InstructionResponse, 64),
		dataUp:   make(chan *fnpb.Elements, 64),
		upDone:   make(chan struct{}),
		owner:    map[string]int{},
		stage:    map[string]string{},
		pending:  map[string]int{},
		fanouts:  map[string]*fanout{},
		created:  time.Now(),
		stats:    JobStats{Bundles: make([]int, n), Stages: map[string][]int{}},
	}
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			r.close()
			return nil, fmt.Errorf("router: listen for worker process %d: %w", i+1, err)
		}
		p := &routedProc{
			index:  i,
			url:    l.Addr().String(),
			srv:    grpc.NewServer(grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32)),
			reqs:   make(chan *fnpb.InstructionRequest, 64),
			data:   make(chan *fnpb.Elements, 64),
			dead:   make(chan struct{}),
			active: map[string]time.Time{},
		}
		s := &procServer{r: r, p: p}
		fnpb.RegisterBeamFnControlServer(p.srv, s)
		fnpb.RegisterBeamFnDataServer(p.srv, s)
		fnpb.RegisterBeamFnStateServer(p.srv, s)
		fnpb.RegisterBeamFnLoggingServer(p.srv, s)
		fnpb.RegisterProvisionServiceServer(p.srv, s)
		r.procs = append(r.procs, p)
		go p.srv.Serve(l)
	}
	return r, nil
}

func (r *router) logf(format string, args ...any) {
	fmt.Fprintf(r.log, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

// close stops the router: its streams to prism and the processes' endpoints.
func (r *router) close() {
	r.cancel()
	for _, p := range r.procs {
		p.srv.Stop()
	}
	r.conn.Close()
}

// jobStats returns a copy of the router's counts.
func (r *router) jobStats() JobStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := JobStats{Bundles: slices.Clone(r.stats.Bundles), Stages: map[string][]int{}, Startup: r.stats.Startup}
	for k, v := range r.stats.Stages {
		s.Stages[k] = slices.Clone(v)
	}
	return s
}

// busy returns the indexes of the live processes with a bundle in
// progress, the one holding the oldest bundle first.
func (r *router) busy() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := map[int]time.Time{}
	var out []int
	for _, p := range r.procs {
		if isClosed(p.dead) || len(p.active) == 0 {
			continue
		}
		for _, t := range p.active {
			if o, ok := oldest[p.index]; !ok || t.Before(o) {
				oldest[p.index] = t
			}
		}
		out = append(out, p.index)
	}
	slices.SortFunc(out, func(a, b int) int { return oldest[a].Compare(oldest[b]) })
	return out
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// controlOpened records that process p opened its control stream, and
// reports false if it had one already. Once every process has one (or has
// died), the router opens its streams to prism: prism sends work as soon as
// its worker connects, and the processes start at about the same time.
func (r *router) controlOpened(p *routedProc) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.controlOpen {
		return false
	}
	p.controlOpen = true
	r.startIfReadyLocked()
	return true
}

func (r *router) startIfReadyLocked() {
	if r.started {
		return
	}
	live := 0
	for _, p := range r.procs {
		switch {
		case isClosed(p.dead):
		case !p.controlOpen:
			return
		default:
			live++
		}
	}
	if live == 0 {
		return
	}
	r.started = true
	r.stats.Startup = time.Since(r.created)
	go r.connectPrism()
}

// connectPrism opens the control and data streams to prism and relays them.
func (r *router) connectPrism() {
	ctrl, err := fnpb.NewBeamFnControlClient(r.conn).Control(r.ctx)
	if err != nil {
		r.logf("control stream to prism: %v", err)
		return
	}
	data, err := fnpb.NewBeamFnDataClient(r.conn).Data(r.ctx)
	if err != nil {
		r.logf("data stream to prism: %v", err)
		return
	}
	r.logf("connected to prism as worker %s", r.workerID)
	go sendFrom(r, "control response to prism", r.toPrism, ctrl.Send)
	go func() {
		defer close(r.upDone)
		for {
			req, err := ctrl.Recv()
			if err != nil {
				r.logf("control stream from prism ended: %v", err)
				return
			}
			r.route(req)
		}
	}()
	go sendFrom(r, "data to prism", r.dataUp, data.Send)
	go func() {
		for {
			e, err := data.Recv()
			if err != nil {
				return
			}
			r.routeData(e)
		}
	}()
}

// sendFrom sends what arrives on c with send (one of the router's streams
// to prism, which takes one sender) until send fails or the router closes.
func sendFrom[T any](r *router, what string, c <-chan *T, send func(*T) error) {
	for {
		select {
		case m := <-c:
			if err := send(m); err != nil {
				r.logf("%s: %v", what, err)
				return
			}
		case <-r.ctx.Done():
			return
		}
	}
}

// route sends an instruction from prism to the process (or processes) it
// concerns.
func (r *router) route(req *fnpb.InstructionRequest) {
	switch x := req.GetRequest().(type) {
	case *fnpb.InstructionRequest_ProcessBundle:
		r.mu.Lock()
		r.stage[req.GetInstructionId()] = x.ProcessBundle.GetProcessBundleDescriptorId()
		r.mu.Unlock()
		r.send(r.assign(req.GetInstructionId()), req)
	case *fnpb.InstructionRequest_ProcessBundleProgress:
		r.send(r.ownerOf(x.ProcessBundleProgress.GetInstructionId()), req)
	case *fnpb.InstructionRequest_ProcessBundleSplit:
		r.send(r.ownerOf(x.ProcessBundleSplit.GetInstructionId()), req)
	case *fnpb.InstructionRequest_FinalizeBundle:
		r.send(r.ownerOf(x.FinalizeBundle.GetInstructionId()), req)
	case *fnpb.InstructionRequest_MonitoringInfos:
		r.monitoringInfos(req, x.MonitoringInfos.GetMonitoringInfoId())
	case *fnpb.InstructionRequest_Register, *fnpb.InstructionRequest_HarnessMonitoringInfos:
		parts := map[int]*fnpb.InstructionRequest{}
		for _, i := range r.live() {
			parts[i] = req
		}
		r.fanOut(req.GetInstructionId(), parts)
	default:
		i := -1
		if live := r.live(); len(live) > 0 {
			i = live[0]
		}
		r.send(i, req)
	}
}

// assign returns the owner of the bundle instruction id, choosing one if
// it has none: the live process with the fewest bundles in progress, round
// robin among equals; -1 if no process lives.
func (r *router) assign(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := r.owner[id]; ok {
		return i
	}
	best := -1
	for k := range r.procs {
		p := r.procs[(r.next+k)%len(r.procs)]
		if isClosed(p.dead) {
			continue
		}
		if best < 0 || len(p.active) < len(r.procs[best].active) {
			best = p.index
		}
	}
	if best < 0 {
		return -1
	}
	r.owner[id] = best
	r.procs[best].active[id] = time.Now()
	r.next = best + 1
	return best
}

// ownerOf returns the owner of the bundle instruction id, -1 if it has
// none.
func (r *router) ownerOf(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := r.owner[id]; ok {
		return i
	}
	return -1
}

// live returns the indexes of the processes that have not died.
func (r *router) live() []int {
	var out []int
	for _, p := range r.procs {
		if !isClosed(p.dead) {
			out = append(out, p.index)
		}
	}
	return out
}

// send sends req to process i, or answers it with an error where i is -1
// or dead.
func (r *router) send(i int, req *fnpb.InstructionRequest) {
	id := req.GetInstructionId()
	r.mu.Lock()
	if i < 0 || isClosed(r.procs[i].dead) {
		r.mu.Unlock()
		msg := "no live worker process"
		if i >= 0 {
			msg = fmt.Sprintf("worker process %d of worker %s died", i+1, r.workerID)
		}
		r.deliver(i, &fnpb.InstructionResponse{InstructionId: id, Error: msg})
		return
	}
	r.pending[id] = i
	r.mu.Unlock()
	p := r.procs[i]
	select {
	case p.reqs <- req:
	case <-p.dead: // died answered it
	case <-r.ctx.Done():
	}
}

// fanOut sends the parts of the request id to their processes (parts'
// instruction ids are made id/PROCESS) and answers prism once all have
// answered, with their answers merged.
func (r *router) fanOut(id string, parts map[int]*fnpb.InstructionRequest) {
	if len(parts) == 0 {
		r.reply(&fnpb.InstructionResponse{InstructionId: id, Error: "no live worker process"})
		return
	}
	f := &fanout{id: id, parts: len(parts)}
	order := slices.Sorted(maps.Keys(parts))
	sub := make([]*fnpb.InstructionRequest, len(order))
	r.mu.Lock()
	for k, i := range order {
		sub[k] = proto.Clone(parts[i]).(*fnpb.InstructionRequest)
		sub[k].InstructionId = id + "/" + strconv.Itoa(i+1)
		r.fanouts[sub[k].InstructionId] = f
	}
	r.mu.Unlock()
	for k, i := range order {
		r.send(i, sub[k])
	}
}

// monitoringInfos splits a MonitoringInfos request by the processes its
// short ids name.
func (r *router) monitoringInfos(req *fnpb.InstructionRequest, ids []string) {
	byProc := map[int][]string{}
	for _, id := range ids {
		i, short, ok := parseShortID(id)
		if !ok || i >= len(r.procs) {
			continue
		}
		byProc[i] = append(byProc[i], short)
	}
	if len(byProc) == 0 {
		r.reply(&fnpb.InstructionResponse{
			InstructionId: req.GetInstructionId(),
			Response: &fnpb.InstructionResponse_MonitoringInfos{
				MonitoringInfos: &fnpb.MonitoringInfosMetadataResponse{MonitoringInfo: map[string]*pipepb.MonitoringInfo{}},
			},
		})
		return
	}
	parts := map[int]*fnpb.InstructionRequest{}
	for i, shorts := range byProc {
		parts[i] = &fnpb.InstructionRequest{Request: &fnpb.InstructionRequest_MonitoringInfos{
			MonitoringInfos: &fnpb.MonitoringInfosMetadataRequest{MonitoringInfoId: shorts},
		}}
	}
	r.fanOut(req.GetInstructionId(), parts)
}

// shortID is the monitoring short id that prism sees for a process's id.
func shortID(i int, id string) string {
	return "p" + strconv.Itoa(i+1) + ":" + id
}

func parseShortID(s string) (i int, id string, ok bool) {
	p, id, ok := strings.Cut(s, ":")
	if !ok || !strings.HasPrefix(p, "p") {
		return 0, "", false
	}
	n, err := strconv.Atoi(p[1:])
	if err != nil || n < 1 {
		return 0, "", false
	}
	return n - 1, id, true
}

// fromProcess handles a response from process i.
func (r *router) fromProcess(i int, resp *fnpb.InstructionResponse) {
	r.mu.Lock()
	if j, ok := r.pending[resp.GetInstructionId()]; !ok || j != i {
		// Already answered: the process was declared dead.
		r.mu.Unlock()
		return
	}
	delete(r.pending, resp.GetInstructionId())
	r.mu.Unlock()
	r.deliver(i, resp)
}

// deliver passes the answer of process i (or the router's, for i -1 or a
// dead process) on to prism.
func (r *router) deliver(i int, resp *fnpb.InstructionResponse) {
	id := resp.GetInstructionId()
	r.mu.Lock()
	if i >= 0 {
		if _, ok := r.procs[i].active[id]; ok {
			delete(r.procs[i].active, id)
			if resp.GetError() == "" {
				r.stats.Bundles[i]++
				st := r.stage[id]
				if r.stats.Stages[st] == nil {
					r.stats.Stages[st] = make([]int, len(r.procs))
				}
				r.stats.Stages[st][i]++
			}
		}
	}
	f := r.fanouts[id]
	delete(r.fanouts, id)
	var whole *fnpb.InstructionResponse
	if f != nil {
		f.got = append(f.got, prefixShortIDs(i, resp))
		if len(f.got) == f.parts {
			whole = mergeResponses(f.id, f.got)
		}
	}
	r.mu.Unlock()
	switch {
	case f == nil:
		r.reply(prefixShortIDs(i, resp))
	case whole != nil:
		r.reply(whole)
	}
}

func (r *router) reply(resp *fnpb.InstructionResponse) {
	select {
	case r.toPrism <- resp:
	case <-r.ctx.Done():
	}
}

// prefixShortIDs renames the monitoring short ids in resp, an answer of
// process i, as prism sees them.
func prefixShortIDs(i int, resp *fnpb.InstructionResponse) *fnpb.InstructionResponse {
	if i < 0 {
		return resp
	}
	prefix := func(m map[string][]byte) map[string][]byte {
		out := make(map[string][]byte, len(m))
		for k, v := range m {
			out[shortID(i, k)] = v
		}
		return out
	}
	switch x := resp.GetResponse().(type) {
	case *fnpb.InstructionResponse_ProcessBundle:
		x.ProcessBundle.MonitoringData = prefix(x.ProcessBundle.GetMonitoringData())
	case *fnpb.InstructionResponse_ProcessBundleProgress:
		x.ProcessBundleProgress.MonitoringData = prefix(x.ProcessBundleProgress.GetMonitoringData())
	case *fnpb.InstructionResponse_HarnessMonitoringInfos:
		x.HarnessMonitoringInfos.MonitoringData = prefix(x.HarnessMonitoringInfos.GetMonitoringData())
	case *fnpb.InstructionResponse_MonitoringInfos:
		infos := x.MonitoringInfos.GetMonitoringInfo()
		out := make(map[string]*pipepb.MonitoringInfo, len(infos))
		for k, v := range infos {
			out[shortID(i, k)] = v
		}
		x.MonitoringInfos.MonitoringInfo = out
	}
	return resp
}

// mergeResponses merges the answers of the parts of the request id: the
// union of the successful ones' monitoring data, or the first error if
// none succeeded.
func mergeResponses(id string, parts []*fnpb.InstructionResponse) *fnpb.InstructionResponse {
	var out *fnpb.InstructionResponse
	for _, p := range parts {
		if p.GetError() != "" {
			continue
		}
		if out == nil {
			out = proto.Clone(p).(*fnpb.InstructionResponse)
			out.InstructionId = id
			continue
		}
		switch x := out.GetResponse().(type) {
		case *fnpb.InstructionResponse_MonitoringInfos:
			maps.Copy(x.MonitoringInfos.MonitoringInfo, p.GetMonitoringInfos().GetMonitoringInfo())
		case *fnpb.InstructionResponse_HarnessMonitoringInfos:
			maps.Copy(x.HarnessMonitoringInfos.MonitoringData, p.GetHarnessMonitoringInfos().GetMonitoringData())
		}
	}
	if out == nil {
		return &fnpb.InstructionResponse{InstructionId: id, Error: parts[0].GetError()}
	}
	return out
}

// died records that process p died: every instruction it was sent and has
// not answered fails.
func (r *router) died(p *routedProc, cause error) {
	r.mu.Lock()
	if isClosed(p.dead) {
		r.mu.Unlock()
		return
	}
	close(p.dead)
	var lost []string
	for id, i := range r.pending {
		if i == p.index {
			lost = append(lost, id)
			delete(r.pending, id)
		}
	}
	r.startIfReadyLocked()
	r.mu.Unlock()
	slices.Sort(lost)
	if r.ctx.Err() == nil {
		r.logf("worker process %d died (%v); failing %d instructions %v", p.index+1, cause, len(lost), lost)
	}
	for _, id := range lost {
		r.deliver(p.index, &fnpb.InstructionResponse{
			InstructionId: id,
			Error:         fmt.Sprintf("worker process %d of worker %s died: %v", p.index+1, r.workerID, cause),
		})
	}
}

// routeData sends elements and timers from prism to the processes owning
// their instructions.
func (r *router) routeData(e *fnpb.Elements) {
	out := map[int]*fnpb.Elements{}
	to := func(id string) *fnpb.Elements {
		i := r.assign(id)
		if i < 0 {
			return nil
		}
		if out[i] == nil {
			out[i] = &fnpb.Elements{}
		}
		return out[i]
	}
	for _, d := range e.GetData() {
		if m := to(d.GetInstructionId()); m != nil {
			m.Data = append(m.Data, d)
		}
	}
	for _, t := range e.GetTimers() {
		if m := to(t.GetInstructionId()); m != nil {
			m.Timers = append(m.Timers, t)
		}
	}
	for _, i := range slices.Sorted(maps.Keys(out)) {
		p := r.procs[i]
		select {
		case p.data <- out[i]:
		case <-p.dead:
		case <-r.ctx.Done():
			return
		}
	}
}

// procServer is the router's endpoint for one worker process.
type procServer struct {
	fnpb.UnimplementedBeamFnControlServer
	fnpb.UnimplementedBeamFnDataServer
	fnpb.UnimplementedBeamFnStateServer
	fnpb.UnimplementedBeamFnLoggingServer
	fnpb.UnimplementedProvisionServiceServer
	r *router
	p *routedProc
}

// toPrism returns a context for a call to prism under the worker's id.
func (s *procServer) toPrism(ctx context.Context) context.Context {
	return grpcx.WriteWorkerID(ctx, s.r.workerID)
}

// GetProvisionInfo is prism's provision info with the router's endpoint
// for this process as the control and logging endpoints.
func (s *procServer) GetProvisionInfo(ctx context.Context, req *fnpb.GetProvisionInfoRequest) (*fnpb.GetProvisionInfoResponse, error) {
	resp, err := fnpb.NewProvisionServiceClient(s.r.conn).GetProvisionInfo(s.toPrism(ctx), req)
	if err != nil {
		return nil, err
	}
	if info := resp.GetInfo(); info != nil {
		info.ControlEndpoint = &pipepb.ApiServiceDescriptor{Url: s.p.url}
		info.LoggingEndpoint = &pipepb.ApiServiceDescriptor{Url: s.p.url}
	}
	return resp, nil
}

// GetProcessBundleDescriptor is prism's descriptor with its data and state
// services at the router's endpoint for this process.
func (s *procServer) GetProcessBundleDescriptor(ctx context.Context, req *fnpb.GetProcessBundleDescriptorRequest) (*fnpb.ProcessBundleDescriptor, error) {
	d, err := fnpb.NewBeamFnControlClient(s.r.conn).GetProcessBundleDescriptor(s.toPrism(ctx), req)
	if err != nil {
		return nil, err
	}
	if err := pointDescriptorAt(d, s.p.url); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return d, nil
}

// pointDescriptorAt makes the data, state and timer services of the
// bundle descriptor d the one at url.
func pointDescriptorAt(d *fnpb.ProcessBundleDescriptor, url string) error {
	at := func(a *pipepb.ApiServiceDescriptor) *pipepb.ApiServiceDescriptor {
		if a == nil {
			return nil
		}
		return &pipepb.ApiServiceDescriptor{Url: url, Authentication: a.GetAuthentication()}
	}
	d.StateApiServiceDescriptor = at(d.GetStateApiServiceDescriptor())
	d.TimerApiServiceDescriptor = at(d.GetTimerApiServiceDescriptor())
	for id, t := range d.GetTransforms() {
		switch t.GetSpec().GetUrn() {
		case urnDataSource, urnDataSink:
			var port fnpb.RemoteGrpcPort
			if err := proto.Unmarshal(t.GetSpec().GetPayload(), &port); err != nil {
				return fmt.Errorf("descriptor %s, transform %s: RemoteGrpcPort payload: %w", d.GetId(), id, err)
			}
			port.ApiServiceDescriptor = at(port.GetApiServiceDescriptor())
			b, err := proto.Marshal(&port)
			if err != nil {
				return fmt.Errorf("descriptor %s, transform %s: %w", d.GetId(), id, err)
			}
			t.Spec.Payload = b
		}
	}
	return nil
}

// Control relays instructions for this process from prism, and its
// answers back. The process dies, for the router, when the stream breaks.
func (s *procServer) Control(stream fnpb.BeamFnControl_ControlServer) error {
	r, p := s.r, s.p
	if !r.controlOpened(p) {
		return status.Errorf(codes.AlreadyExists, "worker process %d already has a control stream", p.index+1)
	}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				r.died(p, fmt.Errorf("control stream: %w", err))
				return
			}
			r.fromProcess(p.index, resp)
		}
	}()
	for {
		select {
		case req := <-p.reqs:
			if err := stream.Send(req); err != nil {
				r.died(p, fmt.Errorf("control stream: %w", err))
				return err
			}
		case <-p.dead:
			return nil
		case <-r.upDone:
			return nil
		case <-r.ctx.Done():
			return nil
		}
	}
}

// Data relays elements from prism to this process, and its elements up the
// router's one data stream to prism.
func (s *procServer) Data(stream fnpb.BeamFnData_DataServer) error {
	r, p := s.r, s.p
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case r.dataUp <- e:
			case <-r.ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case e := <-p.data:
			if err := stream.Send(e); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		case <-r.ctx.Done():
			return nil
		}
	}
}

// State relays the process's state requests on a stream of their own to
// prism, which answers on it.
func (s *procServer) State(stream fnpb.BeamFnState_StateServer) error {
	up, err := fnpb.NewBeamFnStateClient(s.r.conn).State(s.toPrism(stream.Context()))
	if err != nil {
		return err
	}
	return pipe[fnpb.StateRequest, fnpb.StateResponse](stream, up)
}

// Logging relays the process's log entries on a stream of their own to
// prism.
func (s *procServer) Logging(stream fnpb.BeamFnLogging_LoggingServer) error {
	up, err := fnpb.NewBeamFnLoggingClient(s.r.conn).Logging(s.toPrism(stream.Context()))
	if err != nil {
		return err
	}
	return pipe[fnpb.LogEntry_List, fnpb.LogControl](stream, up)
}

// pipe relays a bidirectional stream: what down (a process's stream to the
// router) receives goes up (the router's stream to prism), and back. It
// returns when up ends; up's context is down's, so prism sees it cancelled
// when down breaks.
func pipe[In, Out any](down interface {
	Recv() (*In, error)
	Send(*Out) error
}, up interface {
	Send(*In) error
	Recv() (*Out, error)
	CloseSend() error
}) error {
	go func() {
		for {
			m, err := down.Recv()
			if err != nil {
				if err == io.EOF {
					up.CloseSend()
				}
				return
			}
			if err := up.Send(m); err != nil {
				return
			}
		}
	}()
	for {
		m, err := up.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := down.Send(m); err != nil {
			return err
		}
	}
}
