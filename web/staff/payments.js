// payments.js - staff console section (see staff.js loadModules). Not written yet.
export default null;
