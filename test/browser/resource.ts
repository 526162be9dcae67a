// The page resource_test.go serves: it replays what OtterScale's web UI of
// today does to show a cluster's DataVolumes, with the client protoc-gen-es
// generates from OUR proto/ (into gen/) over @connectrpc/connect-web's
// Connect JSON transport: the clusters from LinkService.ListLinks, the
// DataVolumes of a namespace from ResourceService.List on the first (the
// current) cluster, then one DataVolume followed through
// ResourceService.Watch, a server stream over fetch, until it is deleted;
// the page then aborts the stream, as the UI does when one leaves the page.
// Last, a watch of a resource the cluster does not serve, which must fail.
//
// Each step is one JSON line on the console, which drive.mjs hands to the
// Go test: {"step": "ok", "call": METHOD, ...what it showed},
// {"step": "error", "call": METHOD, label, code, message}, and for each
// event of the watch {"step": "event", type, resourceVersion, name,
// objectVersion, phase, progress}.
//
// The query string says what to do:
//   proxy      the proxy's base URL
//   namespace  where the DataVolumes are
//   follow     the DataVolume to watch
//   missing    a resource (plural) that cdi.kubevirt.io/v1beta1 does not have
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

import { LinkService } from "./gen/otterscale/link/v1/link_pb";
import { ResourceService, WatchEvent_Type } from "./gen/otterscale/resource/v1/resource_pb";

// DataVolumes as the UI names them to ResourceService.
const dataVolumes = { group: "cdi.kubevirt.io", version: "v1beta1", resource: "datavolumes" };

// How long the page follows the DataVolume before it gives up; the Go test
// changes it as soon as the page reports the watch's first bookmark.
const watchTimeoutMs = 60_000;

type Step = Record<string, unknown> & { step: string };

const steps: Step[] = [];

function report(step: Step): void {
  steps.push(step);
  console.log(JSON.stringify(step));
}

function reportError(call: string, label: string, err: unknown): void {
  const ce = ConnectError.from(err);
  report({ step: "error", call, label, code: Code[ce.code], message: ce.rawMessage });
}

function param(name: string): string {
  const v = new URLSearchParams(location.search).get(name);
  if (v === null || v === "") {
    throw new Error(`query parameter ${name} is missing`);
  }
  return v;
}

// field reads a path of an object's JSON ("" when it is not there).
function field(obj: JsonObject | undefined, ...path: string[]): string {
  let v: JsonValue | undefined = obj;
  for (const p of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return "";
    }
    v = v[p];
  }
  return typeof v === "string" ? v : "";
}

async function main(): Promise<void> {
  const transport = createConnectTransport({ baseUrl: param("proxy") });
  const links = createClient(LinkService, transport);
  const resources = createClient(ResourceService, transport);
  const namespace = param("namespace");

  // The cluster picker; the UI opens on the first.
  const { links: clusters } = await links.listLinks({});
  report({ step: "ok", call: "ListLinks", clusters: clusters.map((l) => l.cluster) });
  if (clusters.length === 0) {
    throw new Error("ListLinks answered no cluster");
  }
  const cluster = clusters[0].cluster;

  // The DataVolume table.
  const list = await resources.list({ cluster, ...dataVolumes, namespace });
  report({
    step: "ok",
    call: "List",
    resourceVersion: list.resourceVersion,
    objects: list.items.map((r) => ({
      namespace: field(r.object, "metadata", "namespace"),
      name: field(r.object, "metadata", "name"),
      uid: field(r.object, "metadata", "uid"),
      resourceVersion: field(r.object, "metadata", "resourceVersion"),
      kind: field(r.object, "kind"),
      apiVersion: field(r.object, "apiVersion"),
    })),
  });

  // One DataVolume's page, live: from what exists (ADDED) and the
  // bookmark after it, until it is deleted.
  const follow = param("follow");
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error("the DataVolume was not deleted in time")), watchTimeoutMs);
  let events = 0;
  let deleted = false;
  try {
    for await (const ev of resources.watch(
      { cluster, ...dataVolumes, namespace, fieldSelector: `metadata.name=${follow}` },
      { signal: ac.signal },
    )) {
      events++;
      const obj = ev.resource?.object;
      report({
        step: "event",
        type: WatchEvent_Type[ev.type] ?? `#${ev.type}`,
        resourceVersion: ev.resourceVersion,
        name: field(obj, "metadata", "name"),
        objectVersion: field(obj, "metadata", "resourceVersion"),
        phase: field(obj, "status", "phase"),
        progress: field(obj, "status", "progress"),
      });
      if (ev.type === WatchEvent_Type.DELETED) {
        // Leave the page: the stream is still open, the page ends it.
        deleted = true;
        ac.abort();
      }
    }
    reportError("Watch", "follow", new Error("the stream ended before the page left"));
  } catch (err) {
    const ce = ConnectError.from(err);
    if (deleted && ce.code === Code.Canceled) {
      report({ step: "ok", call: "Watch", label: "follow", events });
    } else {
      reportError("Watch", "follow", err);
    }
  } finally {
    clearTimeout(timer);
  }

  // A resource the cluster does not serve: the stream fails with a code.
  try {
    for await (const ev of resources.watch({ cluster, ...dataVolumes, resource: param("missing"), namespace })) {
      report({ step: "event", label: "missing", type: WatchEvent_Type[ev.type] ?? `#${ev.type}` });
    }
    report({ step: "ok", call: "Watch", label: "missing" });
  } catch (err) {
    reportError("Watch", "missing", err);
  }
}

main()
  .catch((err: unknown) => reportError("page", "", err))
  .finally(() => {
    report({ step: "done", count: steps.length });
    (window as unknown as { __result: Step[] }).__result = steps;
  });
