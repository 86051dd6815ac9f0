// modules.js - the console's sections beyond the core pages in staff.js, in tab order.
// Each is web/staff/<name>.js with a default export described in staff.js (loadModules);
// a module that exports null is not shown.
export default ['accounts', 'payments', 'tariffs', 'reports', 'admin'];
