/**
 * The site's people as Plane's profile stores them. Plane's web app validates names
 * (packages/utils/src/validation.ts at v1.2.2): a display name is letters, digits, "_", "." and "-"
 * (no spaces, no parentheses, no emoji); first and last names are letters, spaces, "'" and "-", at
 * most 50 characters. The backend accepts anything, but the profile form then refuses to save an edit,
 * so the site's names are mapped onto these fields at synth time and refused if they cannot be:
 *
 *   displayName "Mobutoo (Concierge AI)" → display_name "Mobutoo", first_name "Mobutoo", last_name "Concierge AI"
 *
 * i.e. the part before the parentheses (spaces as "_") is the display name and, unless `firstName`
 * says otherwise, the first name; the part inside is the last name unless `lastName` says otherwise.
 */

export const PLANE_DISPLAY_NAME = /^[\p{L}\p{N}_.-]+$/u;
export const PLANE_PERSON_NAME = /^[\p{L}\s'-]+$/u;
export const PLANE_PERSON_NAME_MAX = 50;

/** A person as the site file writes it. */
export interface SitePerson {
  readonly displayName: string;
  readonly firstName?: string;
  readonly lastName?: string;
}

/** The fields Plane's profile has. */
export interface PlaneNames {
  readonly displayName: string;
  readonly firstName: string;
  readonly lastName: string;
}

/** Plane's names for a site person, and for each field that Plane's UI would refuse, why. */
export function planeNames(person: SitePerson): { names: PlaneNames; problems: { field: keyof SitePerson; message: string }[] } {
  const match = /^\s*([^()]*?)\s*(?:\(([^()]*)\))?\s*$/.exec(person.displayName);
  const base = (match?.[1] ?? person.displayName).trim();
  const qualifier = (match?.[2] ?? '').trim();
  const names: PlaneNames = {
    displayName: base.replace(/\s+/g, '_'),
    firstName: person.firstName ?? base,
    lastName: person.lastName ?? qualifier,
  };
  const problems: { field: keyof SitePerson; message: string }[] = [];
  if (!match || !PLANE_DISPLAY_NAME.test(names.displayName)) {
    problems.push({
      field: 'displayName',
      message: `"${names.displayName}" cannot be Plane's display name (letters, digits, "_", "." and "-", as in "Name (Role)"): write it so, e.g. "Mobutoo (Concierge AI)"`,
    });
  }
  const checkPersonName = (field: 'firstName' | 'lastName', value: string, required: boolean) => {
    if (value === '' && !required) return;
    if (value.length > PLANE_PERSON_NAME_MAX || !PLANE_PERSON_NAME.test(value)) {
      problems.push({
        field: person[field] === undefined ? 'displayName' : field,
        message: `"${value}" cannot be Plane's ${field === 'firstName' ? 'first' : 'last'} name (letters, spaces, "'" and "-", at most ${PLANE_PERSON_NAME_MAX}): set ${field}, e.g. ${field}: ${field === 'firstName' ? 'Artoo-Detoo' : 'Explorer AI'}`,
      });
    }
  };
  checkPersonName('firstName', names.firstName, true);
  checkPersonName('lastName', names.lastName, false);
  return { names, problems };
}
