import { page as adminPage } from "virtual:admin-page";
import { page } from "../lib/http/page";

export const handler = page(adminPage);
