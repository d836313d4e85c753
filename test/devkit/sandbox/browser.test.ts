// The sandbox in a real browser (Debian's Chromium through playwright-core): the page, the signed
// requests to the real bot, the bot's answers through the fake Slack API, the demo Oban worker and
// real Postgres and Meilisearch. The same run takes the README's screenshots: into a temporary
// directory, or into docs/screenshots/ with UPDATE_SCREENSHOTS=1 (so `npm test` leaves the
// working tree as it found it).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../../devkit/sandbox/index.ts";
import { ANA, BEN, VIC } from "../../../devkit/sandbox/seed.ts";
import { type Browser, chromiumMissing, launchChromium } from "./chromium.ts";

const UPDATE = process.env.UPDATE_SCREENSHOTS === "1";
/** "Break Meilisearch": a real outage, shorter than the page's minute so the test stays short. */
const OUTAGE_MS = 40_000;
const DOCS_SHOTS = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));
const missing = chromiumMissing();
if (missing) console.warn(`note: ${missing}`);

describe.skipIf(missing !== null)("the sandbox page in Chromium", { timeout: 120_000 }, () => {
  let sandbox: Sandbox;
  let browser: Browser;
  let page: Page;
  const logs: string[] = [];
  let SHOTS = DOCS_SHOTS;

  const as = async (user: { id: string }) => {
    await page.click(`[data-user-switch="${user.id}"]`);
    await page.locator(`[data-user-switch="${user.id}"][aria-checked="true"]`).waitFor();
  };
  const run = async (text: string) => {
    await page.fill("#composer-input", text);
    await page.press("#composer-input", "Enter");
  };
  /** The newest message in the channel (or thread pane) holding `text`. */
  const message = (text: string | RegExp, where = "#messages"): Locator =>
    page.locator(`${where} article.msg`).filter({ hasText: text }).last();
  /** A screenshot of the page, or of one message (the window grows until the whole message fits). */
  const shot = async (name: string, target?: Locator) => {
    const path = `${SHOTS}${name}.png`;
    // The page's toast would cover the message.
    await page.locator("#toast").evaluate((toast) => {
      (toast as unknown as { hidden: boolean }).hidden = true;
    });
    if (!target) {
      await page.screenshot({ path });
      return;
    }
    const size = page.viewportSize() ?? { width: 1280, height: 860 };
    const height = (await target.boundingBox())?.height ?? 0;
    if (height > size.height - 200)
      await page.setViewportSize({ width: size.width, height: Math.ceil(height) + 260 });
    try {
      await target.scrollIntoViewIfNeeded();
      await target.screenshot({ path, animations: "disabled" });
    } finally {
      await page.setViewportSize(size);
    }
  };

  beforeAll(async () => {
    if (UPDATE) mkdirSync(SHOTS, { recursive: true });
    else SHOTS = `${mkdtempSync(join(tmpdir(), "scrypath-shots-"))}/`;
    sandbox = await startSandbox({
      port: 0,
      log: (line) => logs.push(line),
      botLog: (line) => logs.push(line),
      workerIntervalMs: 300,
      outageMs: OUTAGE_MS,
    });
    browser = await launchChromium();
    page = browser.page;
    page.on("pageerror", (error) => logs.push(`pageerror: ${error.message}`));
    await page.goto(sandbox.url);
    await page.locator("body[data-ready='1']").waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
    if (!UPDATE) rmSync(SHOTS, { recursive: true, force: true });
    expect(logs.filter((l) => l.startsWith("pageerror"))).toEqual([]);
  });

  it("shows the slash command's usage hint while typing, and answers /scrypath status", async () => {
    await as(ANA);
    await page.fill("#composer-input", "/scry");
    const hint = page.locator("#hint");
    await hint.waitFor();
    expect(await hint.textContent()).toContain("status [schema]");
    await page.fill("#composer-input", "/scrypath fa");
    await page.locator("#hint .hint-item").filter({ hasText: "/scrypath failed" }).first().waitFor();

    await run("/scrypath status");
    const status = message("Scrypath posture");
    await status.waitFor();
    expect(await status.getAttribute("data-kind")).toBe("ephemeral");
    expect(await status.textContent()).toContain("Only visible to you");
    expect(await status.textContent()).toMatch(/posts.*products.*users.*articles/s);
    // Emoji shortcodes become emoji; dates become local time.
    expect(await status.locator(".emoji").count()).toBeGreaterThan(0);
    expect(await status.locator("time").count()).toBeGreaterThan(0);
    await shot("status");
  });

  it("opens failed work with its rollup, pages through it in place, and requests a retry", async () => {
    await run("/scrypath failed posts");
    const failed = message("terminal failures need triage");
    await failed.waitFor();
    const text = (await failed.textContent()) ?? "";
    for (const reasonClass of ["transport", "validation", "backend_rejected", "queue_exhausted", "unknown"]) {
      expect(text).toContain(reasonClass);
    }
    expect(text).toContain("Ecto.CastError");
    await shot("failed-work", failed);

    // A page button replaces the ephemeral message it is on (response_url, replace_original).
    const id = await failed.getAttribute("data-id");
    const before = await page.locator("#messages article.ephemeral").count();
    await failed
      .locator("button.btn", { hasText: /next|page 2/i })
      .first()
      .click();
    const same = page.locator(`#messages article[data-id="${id}"]`);
    await same.filter({ hasText: "rows 11" }).waitFor();
    expect(await page.locator("#messages article.ephemeral").count()).toBe(before);
    await same
      .locator("button.btn", { hasText: /previous|page 1|first/i })
      .first()
      .click();
    await same.filter({ hasText: "rows 1–10" }).waitFor();

    // Retry the transport failure whose documents are fine (Meilisearch timed out).
    const row = same.locator(".b-section").filter({ hasText: "(Req.TransportError) timeout" }).first();
    await row.locator("button", { hasText: "Retry" }).click();
    const card = message("Confirmation needed");
    await card.waitFor();
    expect(await card.getAttribute("data-kind")).toBe("message");
    await shot("confirmation-card", card);
  });

  it("refuses the confirm of a non-operator and the requester's own, then runs it for another operator", async () => {
    const card = message("Confirmation needed");
    const ts = await card.getAttribute("data-ts");
    const cardNow = page.locator(`#messages article[data-ts="${ts}"]`);

    await as(VIC);
    await cardNow.locator("button", { hasText: "Confirm" }).click();
    const refusal = message("Not allowed");
    await refusal.waitFor();
    expect(await refusal.getAttribute("data-kind")).toBe("ephemeral");
    expect(await cardNow.textContent()).toContain("Confirmation needed");

    await as(ANA);
    await cardNow.locator("button", { hasText: "Confirm" }).click();
    const twoPerson = message("two-person rule");
    await twoPerson.waitFor();
    expect(await cardNow.textContent()).toContain("Confirmation needed");

    await as(BEN);
    await cardNow.locator("button", { hasText: "Confirm" }).click();
    await cardNow.filter({ hasText: "Done" }).waitFor();
    expect(await cardNow.locator(".edited").count()).toBe(1);
    expect(await cardNow.locator("button", { hasText: "Confirm" }).count()).toBe(0);

    // The verification reply follows the new job in the thread until its documents are observed.
    await cardNow.locator(".open-thread").click();
    const reply = message(/Retry job \d+/, "#thread-messages");
    await reply.waitFor();
    await message("Verified", "#thread-messages").waitFor({ timeout: 60_000 });
    await shot("confirmation-done");
  });

  it("reports reconcile of the schema under reindex, and the contract drift", async () => {
    if (await page.locator("#thread-close").isVisible()) await page.click("#thread-close");
    await as(ANA);
    await run("/scrypath reconcile products");
    const reconcile = message(/Reindex|reindex/);
    await reconcile.filter({ hasText: "prod_product__reindex" }).waitFor();
    await shot("reconcile", reconcile);

    await run("/scrypath drift users");
    const drift = message("Index contract").filter({ hasText: "prod_user" });
    await drift.waitFor();
    expect(await drift.textContent()).toContain("filterable");
    await shot("contract-drift", drift);
  });

  it("refuses a swap the promotion rules forbid at once, privately, with no card to confirm in vain", async () => {
    const report = message("prod_product__reindex");
    const cards = await page
      .locator("#messages article.msg")
      .filter({ hasText: "Confirmation needed" })
      .count();
    await report.locator("button", { hasText: "Swap" }).click();
    const refusal = message("would be refused");
    await refusal.waitFor();
    expect(await refusal.getAttribute("data-kind")).toBe("ephemeral");
    await page.waitForTimeout(300);
    expect(
      await page.locator("#messages article.msg").filter({ hasText: "Confirmation needed" }).count(),
    ).toBe(cards);
  });

  it("opens a modal, shows a refused submission's errors inline, and closes it on a good one", async () => {
    await as(ANA);
    await run("/scrypath settings hot-apply posts");
    const modal = page.locator(".modal");
    await modal.waitFor();
    await modal.locator("textarea, input.field-input").first().waitFor();
    await modal.locator(".field-input").first().fill("{ not json");
    await modal.locator(".modal-submit").click();
    await modal.locator(".input-error").waitFor();
    await shot("hot-apply-modal", modal);
    await modal
      .locator(".field-input")
      .first()
      .fill('{"synonyms": {"postgres": ["postgresql", "pg", "psql"]}}');
    await modal.locator(".modal-submit").click();
    await modal.waitFor({ state: "detached" });
    const card = message("Confirmation needed").filter({ hasText: "synonyms" });
    await card.waitFor();

    // A live-changing request asks before it sends: the confirm dialog, nothing sent when denied.
    const ts = await card.getAttribute("data-ts");
    const cardNow = page.locator(`#messages article[data-ts="${ts}"]`);
    await as(BEN);
    await cardNow.locator("button", { hasText: "Confirm" }).click();
    const dialog = page.locator(".dialog");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("Yes, do it");
    await shot("confirm-dialog");
    await dialog.locator("button.deny").click();
    await dialog.waitFor({ state: "detached" });
    // Denied in the dialog: Slack sends nothing, so the card is untouched.
    await page.waitForTimeout(300);
    expect(await cardNow.textContent()).toContain("Confirmation needed");
    expect(await cardNow.locator(".edited").count()).toBe(0);
    await cardNow.locator("button", { hasText: "Cancel" }).click();
    await cardNow.filter({ hasText: "Cancelled" }).waitFor();
  });

  it("posts the scheduled digest on demand through the bot's digest runner, details in the thread", async () => {
    await page.click("#run-digest");
    const digest = message("Scrypath digest");
    await digest.waitFor();
    expect(await digest.getAttribute("data-kind")).toBe("message");
    // Degraded: the digest mentions the operators' user group.
    expect(await digest.textContent()).toContain("@search-ops");
    await digest.locator(".open-thread").click();
    await page.locator("#thread-messages article.msg").nth(1).waitFor();
    await digest.scrollIntoViewIfNeeded();
    await shot("digest");
    await page.click("#thread-close");
  });

  it("works at phone width (390 px): the sidebar collapses, messages fit the screen, a thread opens full width", async () => {
    const desktop = page.viewportSize() ?? { width: 1280, height: 860 };
    const PHONE = { width: 390, height: 844 };
    /** How far anything sticks out to the right of the screen (0: nothing to scroll sideways to). */
    const overflow = () =>
      page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } })
          .document;
        return doc.documentElement.scrollWidth - 390;
      });
    const box = async (selector: string) => (await page.locator(selector).boundingBox()) ?? undefined;
    await page.setViewportSize(PHONE);
    try {
      // The sidebar is a drawer behind the ☰ button; the channel takes the whole width.
      const sidebar = page.locator("#sidebar");
      await sidebar.waitFor({ state: "hidden" });
      expect(await page.locator("#menu-toggle").isVisible()).toBe(true);
      expect(await box(".channel-pane")).toMatchObject({ x: 0, width: PHONE.width });
      expect(await overflow()).toBeLessThanOrEqual(0);
      await page.click("#menu-toggle");
      await sidebar.waitFor({ state: "visible" });
      expect(await page.getAttribute("#menu-toggle", "aria-expanded")).toBe("true");
      expect((await box("#sidebar"))?.width).toBeLessThanOrEqual(PHONE.width);
      await page.keyboard.press("Escape");
      await sidebar.waitFor({ state: "hidden" });
      // Switching people there closes the drawer; the header says who you are.
      await page.click("#menu-toggle");
      await page.click(`[data-user-switch="${VIC.id}"]`);
      await sidebar.waitFor({ state: "hidden" });
      expect(await page.textContent("#who")).toBe(`as ${VIC.realName}`);
      await page.click("#menu-toggle");
      await page.click(`[data-user-switch="${ANA.id}"]`);
      await sidebar.waitFor({ state: "hidden" });
      expect(await page.textContent("#who")).toBe(`as ${ANA.realName}`);

      // A long message, its buttons and its error texts fit the screen: nothing to scroll sideways to.
      const before = await page.locator("#messages article.ephemeral").count();
      await run("/scrypath failed posts");
      await expect.poll(() => page.locator("#messages article.ephemeral").count()).toBe(before + 1);
      const failed = page.locator("#messages article.ephemeral").last();
      expect(await failed.textContent()).toContain("(Req.TransportError) timeout");
      await failed.scrollIntoViewIfNeeded();
      expect(await overflow()).toBeLessThanOrEqual(0);
      for (const el of await failed.locator("button.btn, .pre, .b-section").all()) {
        const b = await el.boundingBox();
        if (b) expect(b.x + b.width, (await el.textContent()) ?? "").toBeLessThanOrEqual(PHONE.width);
      }
      const fontSize = await failed.locator(".blocks").evaluate((el) => {
        const win = globalThis as unknown as { getComputedStyle(e: unknown): { fontSize: string } };
        return Number.parseFloat(win.getComputedStyle(el).fontSize);
      });
      expect(fontSize).toBeGreaterThanOrEqual(14);
      // The headline and the rollup first, as a phone shows the message when it arrives.
      await failed.evaluate((el) =>
        (el as unknown as { scrollIntoView(o: object): void }).scrollIntoView({ block: "start" }),
      );
      await shot("phone-failed-work");

      // A thread opens over the channel, full width, and closes back to it.
      const card = page
        .locator("#messages article.msg")
        .filter({ hasText: "Done" })
        .filter({ has: page.locator(".open-thread") })
        .first();
      await card.scrollIntoViewIfNeeded();
      await card.locator(".open-thread").click();
      await message("Verified", "#thread-messages").waitFor();
      expect(await box("#thread")).toEqual({ x: 0, y: 0, ...PHONE });
      expect(await overflow()).toBeLessThanOrEqual(0);
      await shot("phone-thread");
      await page.click("#thread-close");
      await page.locator("#thread").waitFor({ state: "hidden" });
      expect(await page.locator("#composer-input").isVisible()).toBe(true);
    } finally {
      await page.setViewportSize(desktop);
    }
    // Back at desktop width: the sidebar is a column again, the ☰ button gone.
    await page.locator("#sidebar").waitFor({ state: "visible" });
    expect(await page.locator("#menu-toggle").isVisible()).toBe(false);
    expect((await box(".channel-pane"))?.x).toBeGreaterThanOrEqual(200);
  });

  /** The channel's alert card for a condition and schema ("Unreadable backend", "posts"). */
  const alertCard = (title: string, schema: string) =>
    page.locator("#messages article.msg").filter({ hasText: `${title} · ${schema} (` });
  let unreadableTs: string | null = null;

  it("breaks Meilisearch from the page: a countdown, a second click changes nothing, and alert cards open and evolve", async () => {
    const button = page.locator("#break-meili");
    expect(await button.textContent()).toBe(`Break Meilisearch for ${OUTAGE_MS / 1000} seconds`);
    await button.click();
    const status = page.locator("#outage-status");
    await status.filter({ hasText: "Meilisearch is down" }).waitFor();
    expect(await button.isDisabled()).toBe(true);
    // The countdown runs on the page: it shows seconds left, and they go down.
    const seconds = async () => Number(/back in (\d+) s/.exec((await status.textContent()) ?? "")?.[1]);
    const first = await seconds();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(OUTAGE_MS / 1000);
    await expect.poll(seconds, { timeout: 5_000 }).toBeLessThan(first);
    // The page refuses a second click while broken, and so does the sandbox: the same outage.
    const again = await page.evaluate(async (user) => {
      const res = await fetch("/api/break", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user }),
      });
      return (await res.json()) as { outage: { already: boolean } };
    }, ANA.id);
    expect(again.outage.already).toBe(true);

    // The bot's checks of posts cannot read Meilisearch: after three in a row its card opens, in
    // the channel, mentioning the on-call group once.
    const unreadable = alertCard("Unreadable backend", "posts");
    await unreadable.waitFor({ timeout: OUTAGE_MS });
    expect(await unreadable.getAttribute("data-kind")).toBe("message");
    const opened = (await unreadable.textContent()) ?? "";
    expect(opened).toContain("@search-ops");
    expect(opened).toContain("Meilisearch could not be read");
    unreadableTs = await unreadable.getAttribute("data-ts");

    // The demo application's sync jobs time out and end discarded: the failures card of posts is
    // edited in place with the new count and the newest error.
    const failures = alertCard("Terminal failures", "posts");
    await failures.filter({ hasText: "(Req.TransportError) timeout" }).waitFor({ timeout: OUTAGE_MS });
    expect(await failures.count()).toBe(1);
    expect(await failures.textContent()).toMatch(/transport/);
  });

  it("says Meilisearch is back, and the unreadable card resolves after the hold-down; the failures card stays open", async () => {
    const status = page.locator("#outage-status");
    await status.filter({ hasText: "Meilisearch is back" }).waitFor({ timeout: OUTAGE_MS + 20_000 });
    expect(await page.locator("#break-meili").isDisabled()).toBe(false);

    const failures = alertCard("Terminal failures", "posts");
    // Meilisearch answers again: both planes are counted, the warning leaves the card.
    await failures.filter({ hasNotText: "Meilisearch could not be read" }).waitFor({ timeout: 30_000 });
    expect(await failures.locator(".edited").count()).toBe(1);
    await shot("alert-open", failures);

    // The same card, edited to Resolved once every backend answered for the whole hold-down (30 s).
    const resolved = page.locator(`#messages article[data-ts="${unreadableTs}"]`);
    await resolved.filter({ hasText: /Resolved at / }).waitFor({ timeout: 90_000 });
    expect(await resolved.textContent()).toContain("Every backend answered again");
    expect(await resolved.locator("select").count()).toBe(0);
    await shot("alert-resolved", resolved);

    // Snooze from the card's select, as an operator: the card says so.
    await as(BEN);
    await failures.locator("select").selectOption({ label: "1 h" });
    await failures.filter({ hasText: "Snoozed by @Ben Okafor" }).waitFor();
  });

  it("recovers after the outage with Retry all N transport…: the blast radius on a card, one confirm, the thread follows the group", async () => {
    await as(ANA);
    // The list asked for now, not the one from before the outage still on the page.
    const lists = page.locator("#messages article.msg").filter({ hasText: "terminal failures need triage" });
    const earlier = await lists.count();
    await run("/scrypath failed posts");
    await lists.nth(earlier).waitFor();
    const failed = lists.last();
    const retryAll = failed.locator("button", { hasText: /^Retry all \d+ transport…$/ });
    const label = (await retryAll.textContent()) ?? "";
    const n = Number(/Retry all (\d+)/.exec(label)?.[1]);
    expect(n).toBeGreaterThan(0);
    await retryAll.click();
    const card = page
      .locator("#messages article.msg")
      .filter({ hasText: `Retry ${n} failed transport jobs` })
      .last();
    await card.waitFor().catch(async (error) => {
      const last = await page.locator("#messages article.msg").last().textContent();
      throw new Error(`no card; the newest message: ${last?.slice(0, 400)}`, { cause: error });
    });
    const text = (await card.textContent()) ?? "";
    expect(text).toContain(`Sample: 5 of ${n}, newest jobs first`);
    expect(text).toContain("the failed jobs stay as they are");
    await shot("bulk-retry-card", card);

    const ts = await card.getAttribute("data-ts");
    const cardNow = page.locator(`#messages article[data-ts="${ts}"]`);
    await as(BEN);
    await cardNow.locator("button", { hasText: "Confirm" }).click();
    const dialog = page.locator(".dialog");
    await dialog.waitFor();
    await dialog.locator("button", { hasText: "Yes, do it" }).click();
    await cardNow.filter({ hasText: `${n} of ${n} replayed as new jobs` }).waitFor({ timeout: 30_000 });

    await cardNow.locator(".open-thread").click();
    await message(/Bulk retry: completed/, "#thread-messages").waitFor({ timeout: 60_000 });
    expect(await message(/Bulk retry/, "#thread-messages").textContent()).toMatch(
      /sampled documents verified/,
    );
    await shot("bulk-retry-done");
  });
});
