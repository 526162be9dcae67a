// The page browser_test.go serves: it calls the proxy as the OtterScale web
// UI does, with @connectrpc/connect-web's Connect transport (JSON, the
// default) over fetch, from an origin other than the proxy's, and reports
// every step as one JSON line on the console, which drive.mjs hands to the
// Go test. Each call is made and reported even when an earlier one failed,
// so that a blocked origin shows every call blocked.
//
// The query string says what to do:
//   proxy     the proxy's base URL, e.g. http://127.0.0.1:8299
//   namespace, dataVolume, sizeBytes, url   the DataVolume to create
//   pool, image, snapshot                   the RBD snapshot to create
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import {
  DataVolume_Source_Type,
  InstanceService,
  WatchDataVolumesResponse_Type,
} from "./gen/otterscale/instance/v1/instance_pb";
import { StorageService } from "./gen/otterscale/storage/v1/storage_pb";

// How long the page follows the import before it gives up; the Go test
// drives the import as soon as the page reports the watch synced.
const watchTimeoutMs = 60_000;

type Step = Record<string, unknown> & { step: string };

const steps: Step[] = [];

function report(step: Step): void {
  steps.push(step);
  console.log(JSON.stringify(step));
}

function reportError(call: string, err: unknown): void {
  const ce = ConnectError.from(err);
  report({ step: "error", call, code: Code[ce.code], message: ce.rawMessage });
}

function param(name: string): string {
  const v = new URLSearchParams(location.search).get(name);
  if (v === null || v === "") {
    throw new Error(`query parameter ${name} is missing`);
  }
  return v;
}

async function main(): Promise<void> {
  const transport = createConnectTransport({ baseUrl: param("proxy") });
  const instance = createClient(InstanceService, transport);
  const storage = createClient(StorageService, transport);
  const namespace = param("namespace");
  const name = param("dataVolume");

  try {
    const dv = await instance.createDataVolume({
      namespace,
      name,
      source: { type: DataVolume_Source_Type.HTTP_URL, data: param("url") },
      sizeBytes: BigInt(param("sizeBytes")),
    });
    report({
      step: "created",
      namespace: dv.namespace,
      name: dv.name,
      sizeBytes: dv.sizeBytes.toString(),
      // The number: which of the two spellings of a value protobuf-es
      // names varies between its releases.
      sourceType: dv.source?.type ?? -1,
      sourceData: dv.source?.data ?? "",
    });
  } catch (err) {
    reportError("CreateDataVolume", err);
  }

  try {
    const snap = await storage.createImageSnapshot({
      poolName: param("pool"),
      imageName: param("image"),
      snapshotName: param("snapshot"),
    });
    report({ step: "snapshot", name: snap.name, protected: snap.protected, quotaBytes: snap.quotaBytes.toString() });
  } catch (err) {
    reportError("CreateImageSnapshot", err);
  }

  // Follow the DataVolume until its import succeeds, as the UI's progress
  // bar does.
  const signal = AbortSignal.timeout(watchTimeoutMs);
  try {
    for await (const res of instance.watchDataVolumes({ namespace, names: [name] }, { signal })) {
      const dv = res.dataVolume;
      report({
        step: "watch",
        type: WatchDataVolumesResponse_Type[res.type],
        name: dv?.name ?? "",
        phase: dv?.phase ?? "",
        progress: dv?.progress ?? "",
        claim: dv?.persistentVolumeClaim?.status ?? "",
      });
      if (dv?.phase === "Succeeded") {
        break; // ends the stream: connect-web aborts the fetch
      }
    }
  } catch (err) {
    reportError("WatchDataVolumes", err);
  }
}

main()
  .catch((err: unknown) => report({ step: "error", call: "page", code: "", message: String(err) }))
  .finally(() => {
    report({ step: "done", count: steps.length });
    (window as unknown as { __result: Step[] }).__result = steps;
  });
