package fpmstatus

// pageHead opens a page with the three fields Parse requires and no
// closing brace, for a test to add to.
const pageHead = `{"pool":"www","accepted conn":1,"active processes":1`

// fullPage is a status page as php-fpm 8 writes it for ?json&full: every
// pool field, and one idle and one busy process.
const fullPage = `{"pool":"www","process manager":"static","start time":1700000000,"start since":3725,` +
	`"accepted conn":42,"listen queue":0,"max listen queue":3,"listen queue len":511,"idle processes":1,` +
	`"active processes":1,"total processes":2,"max active processes":2,"max children reached":4,"slow requests":5,` +
	`"processes":[` +
	`{"pid":12,"state":"Idle","start time":1700000000,"start since":3725,"requests":20,"request duration":150,` +
	`"request method":"GET","request uri":"/index.php","content length":0,"user":"-","script":"/srv/index.php",` +
	`"last request cpu":0.00,"last request memory":2097152},` +
	`{"pid":13,"state":"Running","start time":1700000001,"start since":3724,"requests":22,"request duration":2500000,` +
	`"request method":"POST","request uri":"/upload.php","content length":1024,"user":"-","script":"/srv/upload.php",` +
	`"last request cpu":12.50,"last request memory":0}]}`
