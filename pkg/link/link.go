// Package link owns LinkService as the proxy serves it: ListLinks answers
// the kubeconfig's contexts as the clusters OtterScale's web UI can pick,
// since ResourceService's cluster is a context here. The other methods
// concern OtterScale's agent tunnels (registering an agent, its manifest,
// Rancher projects), which only an OtterScale server has.
package link

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	linkv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
)

// Contexts lists the kubeconfig's contexts, the current one first;
// cluster.Kubeconfig is one.
type Contexts interface {
	Contexts() ([]string, error)
}

// Service implements LinkService over a kubeconfig.
type Service struct {
	Agent
	contexts Contexts
}

var _ linkv1connect.LinkServiceHandler = (*Service)(nil)

// New returns the service over contexts.
func New(contexts Contexts) *Service { return &Service{contexts: contexts} }

// ListLinks answers one link per kubeconfig context, the current one
// first. There is no agent behind them, hence no agent version and no
// Rancher project.
func (s *Service) ListLinks(context.Context, *connect.Request[linkv1.ListLinksRequest]) (*connect.Response[linkv1.ListLinksResponse], error) {
	names, err := s.contexts.Contexts()
	if err != nil {
		return nil, err
	}
	links := make([]*linkv1.Link, 0, len(names))
	for _, n := range names {
		links = append(links, &linkv1.Link{Cluster: new(n), AgentVersion: new(""), RancherProjectId: new("")})
	}
	return connect.NewResponse(&linkv1.ListLinksResponse{Links: links}), nil
}

// Agent answers the agent-tunnel methods of LinkService: only an
// OtterScale server has agents, so without --upstream they are
// unimplemented, saying where to go.
type Agent struct {
	linkv1connect.UnimplementedLinkServiceHandler
}

func agentOnly(procedure string) error {
	return connect.NewError(connect.CodeUnimplemented, fmt.Errorf(
		"%s concerns OtterScale's agent tunnels, which only an OtterScale server has: start the proxy with --upstream URL to forward it there", procedure))
}

func (Agent) Register(context.Context, *connect.Request[linkv1.RegisterRequest]) (*connect.Response[linkv1.RegisterResponse], error) {
	return nil, agentOnly(linkv1connect.LinkServiceRegisterProcedure)
}

func (Agent) GetAgentManifest(context.Context, *connect.Request[linkv1.GetAgentManifestRequest]) (*connect.Response[linkv1.GetAgentManifestResponse], error) {
	return nil, agentOnly(linkv1connect.LinkServiceGetAgentManifestProcedure)
}

func (Agent) ListRancherProjects(context.Context, *connect.Request[linkv1.ListRancherProjectsRequest]) (*connect.Response[linkv1.ListRancherProjectsResponse], error) {
	return nil, agentOnly(linkv1connect.LinkServiceListRancherProjectsProcedure)
}
