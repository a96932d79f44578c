/** The page loads data files as scripts, since browsers refuse fetch() from file:// pages; each calls this global. */
export const DATA_CALLBACK_NAME = 'nndDashboardData';
/** The folder beside index.html that holds them. */
export const DATA_FOLDER_NAME = 'data';
