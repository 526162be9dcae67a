// The page webui_test.go serves: it replays the calls OtterScale's web UI
// makes on its data-volume and block-device pages, with the client
// protoc-gen-es generates from UPSTREAM's final schema
// (test/e2e/testdata/upstream, into gen-upstream/), which knows only the
// TYPE_ and APPLICATION_ enum names, over @connectrpc/connect-web's Connect
// JSON transport, as the UI does. That client ignores unknown fields and
// reads an enum name it does not know as the enum's zero, so no call fails
// on a wrong spelling: the page reports the values it decoded (enum numbers
// and the names upstream's TypeScript enum gives them) and the Go test
// checks them.
//
// Each call's outcome is one JSON line on the console, which drive.mjs
// hands to the Go test: {"step": "ok", "call": METHOD, ...what it showed}
// or {"step": "error", "call": METHOD, code, message}. A failed call does
// not stop the page. After a call that changes something, the page waits
// at the gate (GET /gate?call=METHOD on its own origin) until the Go test
// has looked at the cluster and opens it.
//
// The query string says what to do:
//   proxy   the proxy's base URL
//   page    "data-volume" or "block-device"
//   data-volume:  namespace, url (the boot image's), sizeBytes,
//                 claim (the existing claim to clone), extend (the
//                 DataVolume to grow), extendBytes, delete (the one to delete)
//   block-device: pool, image (the image whose snapshots the page works on),
//                 snapshot, newImage, newBytes, growBytes (the image the page
//                 creates, grows and deletes)
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import {
  type DataVolume,
  DataVolume_Source_Type,
  DataVolumeFilter,
  InstanceService,
} from "./gen-upstream/otterscale/instance/v1/instance_pb";
import { type Image, Pool_Application, StorageService } from "./gen-upstream/otterscale/storage/v1/storage_pb";

type Step = Record<string, unknown> & { step: string };

const steps: Step[] = [];

function report(step: Step): void {
  steps.push(step);
  console.log(JSON.stringify(step));
}

function param(name: string): string {
  const v = new URLSearchParams(location.search).get(name);
  if (v === null || v === "") {
    throw new Error(`query parameter ${name} is missing`);
  }
  return v;
}

// call makes one call and reports what it showed (show's fields), or its
// error; with gate, it waits for the Go test after a success. It returns
// whether the call succeeded.
async function call<T>(
  name: string,
  fn: () => Promise<T>,
  show: (res: T) => Record<string, unknown>,
  gate = false,
): Promise<boolean> {
  let res: T;
  try {
    res = await fn();
  } catch (err) {
    const ce = ConnectError.from(err);
    report({ step: "error", call: name, code: Code[ce.code], message: ce.rawMessage });
    return false;
  }
  report({ step: "ok", call: name, ...show(res) });
  if (gate) {
    const r = await fetch(`/gate?call=${encodeURIComponent(name)}`);
    if (!r.ok) {
      throw new Error(`gate after ${name}: ${r.status}`);
    }
  }
  return true;
}

// The source type as upstream's client decoded it: its number, and the
// member of upstream's TypeScript enum (undefined for a number upstream
// does not name).
function showDataVolume(dv: DataVolume): Record<string, unknown> {
  const type = dv.source?.type ?? -1;
  return {
    name: dv.name,
    namespace: dv.namespace,
    sourceType: type,
    sourceTypeName: DataVolume_Source_Type[type] ?? "",
    sourceData: dv.source?.data ?? "",
    bootImage: dv.bootImage,
    sizeBytes: dv.sizeBytes.toString(),
  };
}

function showImage(img: Image): Record<string, unknown> {
  return {
    name: img.name,
    pool: img.poolName,
    quotaBytes: img.quotaBytes.toString(),
    snapshots: img.snapshots.map((s) => ({ name: s.name, protected: s.protected, quotaBytes: s.quotaBytes.toString() })),
  };
}

async function dataVolumePage(transport: ReturnType<typeof createConnectTransport>): Promise<void> {
  const instance = createClient(InstanceService, transport);
  const namespace = param("namespace");
  const list = (label: string, filter: DataVolumeFilter) =>
    call(
      "ListDataVolumes",
      () => instance.listDataVolumes({ namespace, filter }),
      (res) => ({ label, filter: DataVolumeFilter[filter], items: res.dataVolumes.map(showDataVolume) }),
    );

  // On load.
  await list("load", DataVolumeFilter.ALL);

  // The create dialog, once for each source type.
  const sizeBytes = BigInt(param("sizeBytes"));
  const creates: [string, DataVolume_Source_Type, string, boolean][] = [
    ["url-disk", DataVolume_Source_Type.HTTP_URL, param("url"), true],
    ["blank-disk", DataVolume_Source_Type.BLANK_IMAGE, "", false],
    ["clone-disk", DataVolume_Source_Type.EXISTING_PERSISTENT_VOLUME_CLAIM, param("claim"), false],
  ];
  for (const [name, type, data, bootImage] of creates) {
    await call(
      "CreateDataVolume",
      () => instance.createDataVolume({ namespace, name, source: { type, data }, bootImage, sizeBytes }),
      showDataVolume,
    );
  }

  // The list with each filter (the VM create dialog's boot and data disks).
  for (const f of [DataVolumeFilter.ALL, DataVolumeFilter.BOOTABLE, DataVolumeFilter.NON_BOOTABLE]) {
    await list("filter", f);
  }

  const extend = param("extend");
  await call(
    "ExtendDataVolume",
    () => instance.extendDataVolume({ namespace, name: extend, sizeBytes: BigInt(param("extendBytes")) }),
    () => ({ name: extend }),
  );

  const del = param("delete");
  await call(
    "DeleteDataVolume",
    () => instance.deleteDataVolume({ namespace, name: del }),
    () => ({ name: del }),
  );
  await list("after-delete", DataVolumeFilter.ALL);
}

async function blockDevicePage(transport: ReturnType<typeof createConnectTransport>): Promise<void> {
  const storage = createClient(StorageService, transport);
  const poolName = param("pool");
  const imageName = param("image");
  const listImages = (label: string) =>
    call(
      "ListImages",
      () => storage.listImages({}),
      (res) => ({ label, images: res.images.map(showImage) }),
    );

  // On load.
  await listImages("load");
  await call(
    "ListPools",
    () => storage.listPools({ application: Pool_Application.BLOCK }),
    (res) => ({
      pools: res.pools.map((p) => ({
        name: p.name,
        applications: p.applications.map((a) => Pool_Application[a] ?? `#${a}`),
      })),
    }),
  );

  // The snapshot actions on an image's snapshot.
  const snapshotName = param("snapshot");
  const snap = { poolName, imageName, snapshotName };
  await call(
    "CreateImageSnapshot",
    () => storage.createImageSnapshot(snap),
    (s) => ({ name: s.name, protected: s.protected, quotaBytes: s.quotaBytes.toString() }),
    true,
  );
  await call("ProtectImageSnapshot", () => storage.protectImageSnapshot(snap), () => ({}), true);
  await listImages("protected");
  await call("UnprotectImageSnapshot", () => storage.unprotectImageSnapshot(snap), () => ({}), true);
  await call("RollbackImageSnapshot", () => storage.rollbackImageSnapshot(snap), () => ({}), true);
  await call("DeleteImageSnapshot", () => storage.deleteImageSnapshot(snap), () => ({}), true);

  // The image dialog: create, grow, delete; the UI's defaults for the rest.
  const newImage = param("newImage");
  await call(
    "CreateImage",
    () =>
      storage.createImage({
        poolName,
        imageName: newImage,
        objectSizeBytes: 4n << 20n,
        stripeUnitBytes: 4n << 20n,
        stripeCount: 1n,
        quotaBytes: BigInt(param("newBytes")),
        layering: true,
        exclusiveLock: true,
        objectMap: true,
        fastDiff: true,
        deepFlatten: true,
      }),
    showImage,
    true,
  );
  await call(
    "UpdateImage",
    () => storage.updateImage({ poolName, imageName: newImage, quotaBytes: BigInt(param("growBytes")) }),
    showImage,
    true,
  );
  await listImages("created");
  await call("DeleteImage", () => storage.deleteImage({ poolName, imageName: newImage }), () => ({}), true);
}

async function main(): Promise<void> {
  // Connect JSON, connect-web's default and the UI's.
  const transport = createConnectTransport({ baseUrl: param("proxy") });
  switch (param("page")) {
    case "data-volume":
      return dataVolumePage(transport);
    case "block-device":
      return blockDevicePage(transport);
    default:
      throw new Error(`unknown page ${param("page")}`);
  }
}

main()
  .catch((err: unknown) => report({ step: "error", call: "page", code: "", message: String(err) }))
  .finally(() => {
    report({ step: "done", count: steps.length });
    (window as unknown as { __result: Step[] }).__result = steps;
  });
