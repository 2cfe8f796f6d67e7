import { byId } from "./dom";

/**
 * Asks for the API key in a modal dialog. `reason` says why (a key the API refused). Resolves with the
 * key, or undefined when the person closes the dialog without one.
 */
export function askForKey(reason?: string): Promise<string | undefined> {
  const dialog = byId<HTMLDialogElement>("key-dialog");
  const form = byId<HTMLFormElement>("key-form");
  const input = byId<HTMLInputElement>("key-input");
  const message = byId("key-reason");
  const cancel = byId("key-cancel");
  message.textContent = reason ?? "";
  message.hidden = reason === undefined;
  input.value = "";
  return new Promise((resolve) => {
    const onSubmit = (event: Event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (key === "") {
        input.focus();
        return;
      }
      finish(key);
    };
    const onClose = () => finish(undefined);
    const onCancel = () => finish(undefined);
    function finish(key: string | undefined) {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("close", onClose);
      cancel.removeEventListener("click", onCancel);
      if (dialog.open) dialog.close();
      resolve(key);
    }
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose);
    cancel.addEventListener("click", onCancel);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}
