export { repoRoot } from "../../components/shared/scripts";
